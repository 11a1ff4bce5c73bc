package auth

import (
	"context"
	"errors"
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
	return &limiter{Limits: withDefaultLimits(l), c: NewMemoryCounter(clock.now, 1000), now: clock.now}, clock
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
func fail(t *testing.T, l *limiter, clock *fakeNow, email, ip string, n int) (lock bool) {
	t.Helper()
	ctx := context.Background()
	for range n {
		for err := l.checkSignIn(ctx, email, ip); err != nil; err = l.checkSignIn(ctx, email, ip) {
			clock.advance(retryAfter(t, err))
		}
		var err error
		if lock, err = l.signInFailed(ctx, email, ip); err != nil {
			t.Fatal(err)
		}
	}
	return lock
}

func TestPairBackOffDoublesAndSuccessResets(t *testing.T) {
	ctx := context.Background()
	l, _ := newTestLimiter(Limits{PairFreeFailures: 5, AccountFreeFailures: 50})
	const email, ip = "ada@example.com", "10.0.0.1"
	for i := range 5 {
		l.signInFailed(ctx, email, ip)
		if err := l.checkSignIn(ctx, email, ip); err != nil {
			t.Fatalf("checkSignIn after %d failures: got %v, want nil (free failures)", i+1, err)
		}
	}
	var waits []time.Duration
	for range 3 {
		l.signInFailed(ctx, email, ip)
		waits = append(waits, retryAfter(t, l.checkSignIn(ctx, email, ip)))
		l.c.Reset(ctx, "block:pair:"+limitKey(email, ip)) // skip the wait
	}
	if want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}; !equalDurations(waits, want) {
		t.Errorf("back-off after failures 6..8: got %v, want %v", waits, want)
	}
	if err := l.checkSignIn(ctx, email, "10.0.0.2"); err != nil {
		t.Errorf("checkSignIn from another address: got %v, want nil (only the pair backs off)", err)
	}
	if err := l.signInSucceeded(ctx, email, ip); err != nil {
		t.Fatal(err)
	}
	l.signInFailed(ctx, email, ip)
	if err := l.checkSignIn(ctx, email, ip); err != nil {
		t.Errorf("checkSignIn after a success and one failure: got %v, want nil", err)
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestAccountBackOffSparesKnownAddresses(t *testing.T) {
	ctx := context.Background()
	l, _ := newTestLimiter(Limits{PairFreeFailures: 2, AccountFreeFailures: 4})
	const email, home = "ada@example.com", "192.0.2.1"
	if err := l.signInSucceeded(ctx, email, home); err != nil {
		t.Fatal(err)
	}
	// An attacker sprays from many addresses: each pair stays under its
	// budget, the account-wide one trips.
	for i := range 5 {
		l.signInFailed(ctx, email, "10.0.1."+string(rune('0'+i)))
	}
	retryAfter(t, l.checkSignIn(ctx, email, "10.0.2.1"))
	if err := l.checkSignIn(ctx, email, home); err != nil {
		t.Errorf("checkSignIn from the owner's known address: got %v, want nil", err)
	}
}

func TestLockAfterMaxFailuresTakesLong(t *testing.T) {
	l, clock := newTestLimiter(Limits{MaxFailures: 100})
	start := clock.now()
	if lock := fail(t, l, clock, "ada@example.com", "10.0.0.1", 99); lock {
		t.Fatal("signInFailed: locked after 99 failures, want 100")
	}
	if lock := fail(t, l, clock, "ada@example.com", "10.0.0.1", 1); !lock {
		t.Fatal("signInFailed: not locked after 100 consecutive failures")
	}
	// The account-wide back-off is what makes locking someone out
	// expensive: with the defaults, 100 failures take days, not minutes.
	if took := clock.now().Sub(start); took < 48*time.Hour {
		t.Errorf("100 failures took %v of waiting, want at least 48h", took)
	}
}

func TestUnknownEmailsBackOffLikeKnownOnes(t *testing.T) {
	// The limiter never sees whether the account exists: its keys come
	// from the email alone. This checks the two paths are one path.
	l, clock := newTestLimiter(Limits{PairFreeFailures: 1})
	fail(t, l, clock, "nobody@example.com", "10.0.0.1", 2)
	retryAfter(t, l.checkSignIn(context.Background(), "nobody@example.com", "10.0.0.1"))
}

func TestNilLimiterAllowsEverything(t *testing.T) {
	var l *limiter
	ctx := context.Background()
	if err := l.allowIP(ctx, "sign_in", "10.0.0.1"); err != nil {
		t.Errorf("nil allowIP: got %v", err)
	}
	if lock, err := l.signInFailed(ctx, "a@b.co", "10.0.0.1"); lock || err != nil {
		t.Errorf("nil signInFailed: got %v, %v", lock, err)
	}
}

func TestMemoryCounterBoundsKeys(t *testing.T) {
	clock := &fakeNow{t: time.Unix(0, 0)}
	c := NewMemoryCounter(clock.now, 10)
	ctx := context.Background()
	for i := range 100 {
		c.Incr(ctx, string(rune('a'+i)), time.Minute)
	}
	if n := len(c.m); n > 10 {
		t.Errorf("MemoryCounter holds %d keys, want at most 10", n)
	}
}
