package authtest

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// RunCounterTests runs the auth.Counter contract against a backend.
// newCounter must return a fresh, empty counter for the (sub)test it is
// given and register its cleanup with t.Cleanup. The subtests run in
// parallel, each on its own counter.
//
// The contract runs on the real clock: the shared backends time windows,
// blocks and slots by their server's clock, which no test can inject, so
// a few subtests wait out a short window or a one-second block, and the
// suite takes a few seconds. A backend whose server compares wall-clock
// times (PostgreSQL) must be tested against one that keeps this machine's
// time to within counterClockSlack: the same host, or a container on it.
func RunCounterTests(t *testing.T, newCounter func(t *testing.T) auth.Counter) {
	t.Helper()
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, c auth.Counter)
	}{
		{"RateLimit", testCounterRateLimit},
		{"RateWindowEnds", testCounterRateWindowEnds},
		{"BackoffBlocksPastFree", testCounterBackoffBlocks},
		{"BackoffDoubles", testCounterBackoffDoubles},
		{"SettleClears", testCounterSettleClears},
		{"AllOrNothing", testCounterAllOrNothing},
		{"Slots", testCounterSlots},
		{"SlotsExpire", testCounterSlotsExpire},
		{"ConcurrentBurst", testCounterConcurrentBurst},
		{"OddKeys", testCounterOddKeys},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newCounter(t))
		})
	}
}

const (
	// counterLongWindow never ends during a test.
	counterLongWindow = time.Hour
	// counterShortWindow ends during one.
	counterShortWindow = 300 * time.Millisecond
	// counterClockSlack is how far a backend's clock may be from this
	// process's, counting its resolution (milliseconds for Redis).
	counterClockSlack = 5 * time.Millisecond
)

func admit(t *testing.T, c auth.Counter, a auth.Admission) auth.Decision {
	t.Helper()
	d, err := c.Admit(t.Context(), a)
	if err != nil {
		t.Fatalf("Admit(%+v) = %v", a, err)
	}
	if !d.Admitted && d.RetryAfter <= 0 {
		t.Fatalf("Admit(%+v) refused with RetryAfter %v, want > 0", a, d.RetryAfter)
	}
	return d
}

func settle(t *testing.T, c auth.Counter, s auth.Settlement) {
	t.Helper()
	if err := c.Settle(t.Context(), s); err != nil {
		t.Fatalf("Settle(%+v) = %v", s, err)
	}
}

func rateAdmission(key string, limit int64, window time.Duration) auth.Admission {
	return auth.Admission{Rates: []auth.Rate{{Key: key, Limit: limit, Window: window}}}
}

func backoffAdmission(key string, free int64) auth.Admission {
	return auth.Admission{Backoffs: []auth.Backoff{{Key: key, Free: free, MaxDelay: time.Hour, Memory: counterLongWindow}}}
}

func slotAdmission(key string, max int64, holder string, ttl time.Duration) auth.Admission {
	return auth.Admission{Slots: []auth.Slot{{Key: key, Max: max}}, Holder: holder, SlotTTL: ttl}
}

func testCounterRateLimit(t *testing.T, c auth.Counter) {
	for i := range 3 {
		if d := admit(t, c, rateAdmission("k", 3, counterLongWindow)); !d.Admitted {
			t.Fatalf("Admit(rate k, limit 3) #%d refused, want admitted", i+1)
		}
	}
	before := time.Now()
	d := admit(t, c, rateAdmission("k", 3, counterLongWindow))
	if d.Admitted {
		t.Fatalf("Admit(rate k, limit 3) #4 admitted, want refused")
	}
	if lo := counterLongWindow - time.Since(before) - time.Minute; d.RetryAfter < lo || d.RetryAfter > counterLongWindow+counterClockSlack {
		t.Errorf("Admit(rate k) #4: RetryAfter = %v, want about the window %v: a fixed window", d.RetryAfter, counterLongWindow)
	}
	if d := admit(t, c, rateAdmission("other", 3, counterLongWindow)); !d.Admitted {
		t.Errorf("Admit(rate other) beside a full k refused, want admitted: keys are independent")
	}
}

// waitAdmitted retries a until it is admitted; it must be within limit.
func waitAdmitted(t *testing.T, c auth.Counter, a auth.Admission, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if d := admit(t, c, a); d.Admitted {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("Admit(%+v) still refused after %v", a, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testCounterRateWindowEnds(t *testing.T, c auth.Counter) {
	start := time.Now()
	admit(t, c, rateAdmission("k", 1, counterShortWindow))
	d := admit(t, c, rateAdmission("k", 1, counterShortWindow))
	if d.Admitted || d.RetryAfter > counterShortWindow+counterClockSlack {
		t.Fatalf("Admit(rate k, limit 1) #2 = %+v, want refused for at most %v", d, counterShortWindow)
	}
	// A refusal does not move the window: it ends counterShortWindow
	// after it started, not after the last attempt.
	waitAdmitted(t, c, rateAdmission("k", 1, counterShortWindow), 3*counterShortWindow)
	if el := time.Since(start); el < counterShortWindow-counterClockSlack {
		t.Errorf("Admit(rate k) admitted again after %v, before its %v window ended", el, counterShortWindow)
	}
}

func testCounterBackoffBlocks(t *testing.T, c auth.Counter) {
	// Free 2: the first two are free, the third is admitted and blocks.
	for i := range 3 {
		if d := admit(t, c, backoffAdmission("k", 2)); !d.Admitted {
			t.Fatalf("Admit(backoff k, free 2) #%d refused (%v), want admitted", i+1, d.RetryAfter)
		}
	}
	d := admit(t, c, backoffAdmission("k", 2))
	if d.Admitted || d.RetryAfter > time.Second+counterClockSlack {
		t.Errorf("Admit(backoff k, free 2) #4 = %+v, want refused for at most 1s", d)
	}
	if d := admit(t, c, backoffAdmission("other", 2)); !d.Admitted {
		t.Errorf("Admit(backoff other) beside a blocked k refused, want admitted")
	}
}

func testCounterBackoffDoubles(t *testing.T, c auth.Counter) {
	// The block starts when the backend handles the first Admit, no
	// earlier than it was sent: timed from before it, the wait is never
	// short of the block however slow the round trip (the race detector on
	// a loaded machine).
	start := time.Now()
	admit(t, c, backoffAdmission("k", 0)) // blocks 1 s
	waitAdmitted(t, c, backoffAdmission("k", 0), 3*time.Second)
	if waited := time.Since(start); waited < time.Second-counterClockSlack {
		t.Errorf("Admit(backoff k, free 0) admitted again after %v, want after its 1s block", waited)
	}
	// The second failure blocks for 2 s.
	d := admit(t, c, backoffAdmission("k", 0))
	if d.Admitted || d.RetryAfter <= time.Second || d.RetryAfter > 2*time.Second+counterClockSlack {
		t.Errorf("Admit(backoff k) after 2 failures = %+v, want refused for (1s, 2s]", d)
	}
}

func testCounterSettleClears(t *testing.T, c auth.Counter) {
	admit(t, c, backoffAdmission("k", 0))
	if d := admit(t, c, backoffAdmission("k", 0)); d.Admitted {
		t.Fatalf("Admit(backoff k, free 0) #2 admitted, want refused")
	}
	settle(t, c, auth.Settlement{Clear: []string{"k", "absent"}})
	if d := admit(t, c, backoffAdmission("k", 0)); !d.Admitted {
		t.Errorf("Admit(backoff k) after Settle(Clear k) refused (%v), want admitted", d.RetryAfter)
	}
	settle(t, c, auth.Settlement{}) // nothing to settle is not an error
}

func testCounterAllOrNothing(t *testing.T, c auth.Counter) {
	admit(t, c, rateAdmission("full", 1, counterLongWindow))
	a := auth.Admission{
		Rates:    []auth.Rate{{Key: "full", Limit: 1, Window: counterLongWindow}, {Key: "rate", Limit: 1, Window: counterLongWindow}},
		Backoffs: []auth.Backoff{{Key: "backoff", Free: 0, MaxDelay: time.Hour, Memory: counterLongWindow}},
		Slots:    []auth.Slot{{Key: "slot", Max: 1}},
		Holder:   "h1", SlotTTL: counterLongWindow,
	}
	if d := admit(t, c, a); d.Admitted {
		t.Fatalf("Admit with one full rate admitted, want refused")
	}
	// The refused admission took nothing from the others.
	for _, b := range []auth.Admission{
		rateAdmission("rate", 1, counterLongWindow),
		backoffAdmission("backoff", 0),
		slotAdmission("slot", 1, "h2", counterLongWindow),
	} {
		if d := admit(t, c, b); !d.Admitted {
			t.Errorf("Admit(%+v) after a refused admission refused (%v), want admitted: a refusal takes nothing", b, d.RetryAfter)
		}
	}
}

func testCounterSlots(t *testing.T, c auth.Counter) {
	for _, h := range []string{"h1", "h2"} {
		if d := admit(t, c, slotAdmission("k", 2, h, counterLongWindow)); !d.Admitted {
			t.Fatalf("Admit(slot k, max 2) by %s refused, want admitted", h)
		}
	}
	if d := admit(t, c, slotAdmission("k", 2, "h3", counterLongWindow)); d.Admitted {
		t.Fatalf("Admit(slot k, max 2) by a third holder admitted, want refused")
	}
	settle(t, c, auth.Settlement{Release: []string{"k"}, Holder: "h1"})
	if d := admit(t, c, slotAdmission("k", 2, "h3", counterLongWindow)); !d.Admitted {
		t.Errorf("Admit(slot k) after h1 settled refused, want admitted")
	}
	if d := admit(t, c, slotAdmission("k", 2, "h4", counterLongWindow)); d.Admitted {
		t.Errorf("Admit(slot k) with h2, h3 holding admitted, want refused: settling h1 freed one slot")
	}
}

func testCounterSlotsExpire(t *testing.T, c auth.Counter) {
	start := time.Now()
	admit(t, c, slotAdmission("k", 1, "dead", counterShortWindow)) // never settled
	if d := admit(t, c, slotAdmission("k", 1, "h2", counterShortWindow)); d.Admitted {
		t.Fatalf("Admit(slot k, max 1) while held admitted, want refused")
	}
	waitAdmitted(t, c, slotAdmission("k", 1, "h2", counterShortWindow), 3*counterShortWindow)
	if el := time.Since(start); el < counterShortWindow-counterClockSlack {
		t.Errorf("slot of a holder that never settled freed after %v, before its TTL %v", el, counterShortWindow)
	}
}

// testCounterConcurrentBurst is issue 8's burst: 100 attempts at once
// take at most the budget, on every backend and across connections.
func testCounterConcurrentBurst(t *testing.T, c auth.Counter) {
	const n, free, limit = 100, 20, 10
	tests := []struct {
		name string
		a    func(i int) auth.Admission
		want int64
	}{
		{"Backoff", func(int) auth.Admission { return backoffAdmission("acct", free) }, free + 1},
		{"Rate", func(int) auth.Admission { return rateAdmission("ip", limit, counterLongWindow) }, limit},
		{"Slots", func(i int) auth.Admission {
			return slotAdmission("slot", 4, fmt.Sprint("h", i), counterLongWindow)
		}, 4},
	}
	for _, tc := range tests {
		var admitted atomic.Int64
		errs := make([]error, n)
		Concurrently(n, func(i int) {
			d, err := c.Admit(context.WithoutCancel(t.Context()), tc.a(i))
			errs[i] = err
			if err == nil && d.Admitted {
				admitted.Add(1)
			}
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("%s: Admit #%d = %v", tc.name, i, err)
			}
		}
		if got := admitted.Load(); got != tc.want {
			t.Errorf("%s: %d concurrent Admit admitted %d, want %d", tc.name, n, got, tc.want)
		}
	}
}

func testCounterOddKeys(t *testing.T, c auth.Counter) {
	keys := []string{
		"ip:sign_in:2001:db8::1", " with  spaces ", "ünïcødé ✓ 鍵", strings.Repeat("k", 200),
		`*?[a-z]\`, `'";--`, "tab\tnewline\n", "a", "a:", "ab",
	}
	// All admissions first: a backend that mangles two keys into one
	// refuses one of them early.
	for _, k := range keys {
		for i := range 2 {
			if d := admit(t, c, rateAdmission(k, 2, counterLongWindow)); !d.Admitted {
				t.Errorf("Admit(rate %q, limit 2) #%d refused, want admitted", k, i+1)
			}
		}
	}
	for _, k := range keys {
		if d := admit(t, c, rateAdmission(k, 2, counterLongWindow)); d.Admitted {
			t.Errorf("Admit(rate %q, limit 2) #3 admitted, want refused", k)
		}
	}
}

// CountingCounter counts the calls made to the Counter it wraps: each is
// a network round trip on a shared backend.
type CountingCounter struct {
	auth.Counter
	Admits, Settles atomic.Int64
}

// Admit implements auth.Counter.
func (c *CountingCounter) Admit(ctx context.Context, a auth.Admission) (auth.Decision, error) {
	c.Admits.Add(1)
	return c.Counter.Admit(ctx, a)
}

// Settle implements auth.Counter.
func (c *CountingCounter) Settle(ctx context.Context, s auth.Settlement) error {
	c.Settles.Add(1)
	return c.Counter.Settle(ctx, s)
}

// Calls is the number of round trips so far.
func (c *CountingCounter) Calls() int64 { return c.Admits.Load() + c.Settles.Load() }
