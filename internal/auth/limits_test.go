package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeNow is a settable clock for the limiter and its counter.
type fakeNow struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeNow) now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.t }
func (f *fakeNow) advance(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

func newTestLimiter(l Limits) (*limiter, *fakeNow) {
	clock := &fakeNow{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	return &limiter{Limits: withDefaultLimits(l), c: NewMemoryCounter(clock.now, 1000)}, clock
}

func retryAfter(t *testing.T, err error) time.Duration {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeRateLimited {
		t.Fatalf("got %v, want a rate_limited error", err)
	}
	return e.RetryAfter
}

func TestAllowIPBudgetPerMinute(t *testing.T) {
	ctx := context.Background()
	l, clock := newTestLimiter(Limits{SignInPerIP: 3})
	for i := range 3 {
		if err := l.allowIP(ctx, "sign_in", "10.0.0.1"); err != nil {
			t.Fatalf("allowIP #%d: got %v, want nil", i+1, err)
		}
	}
	if ra := retryAfter(t, l.allowIP(ctx, "sign_in", "10.0.0.1")); ra != time.Minute {
		t.Errorf("allowIP over budget: got Retry-After %v, want 1m", ra)
	}
	if err := l.allowIP(ctx, "sign_in", "10.0.0.2"); err != nil {
		t.Errorf("allowIP from another address: got %v, want nil", err)
	}
	if err := l.allowIP(ctx, "register", "10.0.0.1"); err != nil {
		t.Errorf("allowIP for another action: got %v, want nil", err)
	}
	clock.advance(time.Minute)
	if err := l.allowIP(ctx, "sign_in", "10.0.0.1"); err != nil {
		t.Errorf("allowIP after the window: got %v, want nil", err)
	}
}

// fail records n failures for (email, ip), each after waiting out any
// back-off, as a patient attacker would.
func fail(t *testing.T, l *limiter, clock *fakeNow, email, ip string, n int) {
	t.Helper()
	ctx := context.Background()
	for range n {
		tk, err := l.admitVerify(ctx, "sign_in", email, Client{IP: ip}, nil)
		for ; err != nil; tk, err = l.admitVerify(ctx, "sign_in", email, Client{IP: ip}, nil) {
			clock.advance(retryAfter(t, err))
		}
		if err := tk.settle(ctx, false); err != nil {
			t.Fatal(err)
		}
	}
}

// attempt admits one sign-in and settles it as ok says; it returns the
// admission's error.
func attempt(l *limiter, email string, c Client, d *deviceToken, ok bool) error {
	ctx := context.Background()
	tk, err := l.admitVerify(ctx, "sign_in", email, c, d)
	if err != nil {
		return err
	}
	return tk.settle(ctx, ok)
}

func TestPairBackOffDoublesAndSuccessResets(t *testing.T) {
	l, clock := newTestLimiter(Limits{PairFreeFailures: 5, AccountFreeFailures: 50})
	const email = "ada@example.com"
	c := Client{IP: "10.0.0.1"}
	// Failures 1..5 are free; 6 is admitted and blocks for 1 s, and so on.
	for i := range 6 {
		if err := attempt(l, email, c, nil, false); err != nil {
			t.Fatalf("attempt #%d: got %v, want admitted (free failures)", i+1, err)
		}
	}
	var waits []time.Duration
	for range 3 {
		ra := retryAfter(t, attempt(l, email, c, nil, false))
		waits = append(waits, ra)
		clock.advance(ra)
		if err := attempt(l, email, c, nil, false); err != nil {
			t.Fatalf("attempt after waiting %v: got %v, want admitted", ra, err)
		}
	}
	if want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}; !slices.Equal(waits, want) {
		t.Errorf("back-off after failures 6..8: got %v, want %v", waits, want)
	}
	if err := attempt(l, email, Client{IP: "10.0.0.2"}, nil, false); err != nil {
		t.Errorf("attempt from another address: got %v, want admitted (only the pair backs off)", err)
	}
	clock.advance(16 * time.Second)
	if err := attempt(l, email, c, nil, true); err != nil {
		t.Fatalf("attempt after the block: got %v", err)
	}
	if err := attempt(l, email, c, nil, false); err != nil {
		t.Errorf("attempt after a success: got %v, want admitted (a success clears the pair)", err)
	}
}

func TestAccountBackOffSparesKnownDevices(t *testing.T) {
	l, _ := newTestLimiter(Limits{PairFreeFailures: 2, AccountFreeFailures: 4})
	const email = "ada@example.com"
	device := &deviceToken{userID: 1, nonce: [16]byte{1}}
	// An attacker sprays from many addresses: each pair stays under its
	// budget, the account-wide one trips.
	for i := range 5 {
		attempt(l, email, Client{IP: fmt.Sprint("10.0.1.", i)}, nil, false)
	}
	retryAfter(t, attempt(l, email, Client{IP: "10.0.2.1"}, nil, false))
	if err := attempt(l, email, Client{IP: "10.0.2.1"}, device, true); err != nil {
		t.Errorf("attempt from the owner's known device: got %v, want admitted", err)
	}
	// The owner's success does not refund the attacker's budget.
	retryAfter(t, attempt(l, email, Client{IP: "10.0.2.2"}, nil, false))
}

func TestBackOffMakesGuessingSlow(t *testing.T) {
	l, clock := newTestLimiter(Limits{})
	start := clock.now()
	fail(t, l, clock, "ada@example.com", "10.0.0.1", 100)
	// With the defaults, 100 guesses at one account take days, not
	// minutes: the account-wide back-off caps at an hour per guess.
	if took := clock.now().Sub(start); took < 48*time.Hour {
		t.Errorf("100 failures took %v of waiting, want at least 48h", took)
	}
}

func TestUnknownEmailsBackOffLikeKnownOnes(t *testing.T) {
	// The limiter never sees whether the account exists: its keys come
	// from the email alone. This checks the two paths are one path.
	l, _ := newTestLimiter(Limits{PairFreeFailures: 1})
	c := Client{IP: "10.0.0.1"}
	attempt(l, "nobody@example.com", c, nil, false)
	attempt(l, "nobody@example.com", c, nil, false)
	retryAfter(t, attempt(l, "nobody@example.com", c, nil, false))
}

func TestInFlightCaps(t *testing.T) {
	l, _ := newTestLimiter(Limits{})
	ctx := context.Background()
	const email = "ada@example.com"
	var held []*ticket
	admitFrom := func(ip string) error {
		tk, err := l.admitVerify(ctx, "sign_in", email, Client{IP: ip}, nil)
		if err == nil {
			held = append(held, tk)
		}
		return err
	}
	for i := range SlotsPerPair {
		if err := admitFrom("10.0.0.1"); err != nil {
			t.Fatalf("admission #%d from one address: %v", i+1, err)
		}
	}
	retryAfter(t, admitFrom("10.0.0.1"))
	for i := SlotsPerPair; i < SlotsPerAccount; i++ {
		if err := admitFrom(fmt.Sprint("10.0.0.", i)); err != nil {
			t.Fatalf("admission #%d to the account: %v", i+1, err)
		}
	}
	retryAfter(t, admitFrom("10.0.0.99"))
	held[0].settle(ctx, false)
	if err := admitFrom("10.0.0.99"); err != nil {
		t.Errorf("admission after one settled: got %v, want admitted", err)
	}
}

func TestNilLimiterAllowsEverything(t *testing.T) {
	var l *limiter
	ctx := context.Background()
	if err := l.allowIP(ctx, "sign_in", "10.0.0.1"); err != nil {
		t.Errorf("nil allowIP: got %v", err)
	}
	tk, err := l.admitVerify(ctx, "sign_in", "a@b.co", Client{IP: "10.0.0.1"}, nil)
	if err != nil {
		t.Errorf("nil admitVerify: got %v", err)
	}
	if err := tk.settle(ctx, false); err != nil {
		t.Errorf("nil settle: got %v", err)
	}
}
