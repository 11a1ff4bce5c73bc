package authtest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// RunCounterTests runs the auth.Counter contract against a backend.
// newCounter must return a fresh, empty counter for the (sub)test it is
// given and register its cleanup with t.Cleanup. The subtests run in
// parallel, each on its own counter.
//
// The contract runs on the real clock: the shared backends time windows by
// their server's clock, which no test can inject, so a few subtests wait
// for a 300 ms window to end, and the suite takes about half a second. A
// backend whose server compares wall-clock times (PostgreSQL) must be
// tested against one that keeps this machine's time to within
// counterClockSlack: the same host, or a container on it. Redis counts the
// window down on its own clock, so only the rate matters there.
func RunCounterTests(t *testing.T, newCounter func(t *testing.T) auth.Counter) {
	t.Helper()
	for _, tc := range counterTests() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newCounter(t))
		})
	}
}

type counterTest struct {
	name string
	run  func(t *testing.T, c auth.Counter)
}

func counterTests() []counterTest {
	return []counterTest{
		{"Incr", testCounterIncr},
		{"Count", testCounterCount},
		{"Reset", testCounterReset},
		{"KeysIndependent", testCounterKeysIndependent},
		{"WindowEnds", testCounterWindowEnds},
		{"NewWindowAfterExpiry", testCounterNewWindow},
		{"Concurrent", testCounterConcurrent},
		{"OddKeys", testCounterOddKeys},
	}
}

const (
	// counterLongWindow never ends during a test.
	counterLongWindow = time.Hour
	// counterShortWindow ends during one: long enough that a loaded CI
	// machine under -race gets several calls in before it ends, short
	// enough to wait out.
	counterShortWindow = 300 * time.Millisecond
	// counterClockSlack is how far a backend's clock may be from this
	// process's, counting its resolution (milliseconds for Redis).
	counterClockSlack = 5 * time.Millisecond
)

// counterCall is one timed Counter call: what it returned, and when it was
// made and when it returned by this process's clock. A backend on a
// server's clock can only be held to that interval, not to an instant.
type counterCall struct {
	n             int64
	resetAt       time.Time
	before, after time.Time
}

func (r counterCall) rtt() time.Duration { return r.after.Sub(r.before) }

func incrCall(t *testing.T, c auth.Counter, key string, window time.Duration) counterCall {
	t.Helper()
	before := time.Now()
	n, resetAt, err := c.Incr(t.Context(), key, window)
	after := time.Now()
	if err != nil {
		t.Fatalf("Incr(%q, %v) = %v", key, window, err)
	}
	return counterCall{n: n, resetAt: resetAt, before: before, after: after}
}

func countCall(t *testing.T, c auth.Counter, key string) counterCall {
	t.Helper()
	before := time.Now()
	n, resetAt, err := c.Count(t.Context(), key)
	after := time.Now()
	if err != nil {
		t.Fatalf("Count(%q) = %v", key, err)
	}
	return counterCall{n: n, resetAt: resetAt, before: before, after: after}
}

// checkStartsWindow checks that r, an Incr that started a window, says the
// window ends window after the call.
func checkStartsWindow(t *testing.T, callName string, r counterCall, window time.Duration) {
	t.Helper()
	lo, hi := r.before.Add(window-counterClockSlack), r.after.Add(window+counterClockSlack)
	if r.resetAt.Before(lo) || r.resetAt.After(hi) {
		t.Errorf("%s: resetAt = %v, want within [%v, %v]: the call's time plus the window %v",
			callName, r.resetAt, lo, hi, window)
	}
}

// checkSameWindow checks that got reports the window that first reported.
// A backend may compute resetAt as its own now plus the time left, so two
// reports of one window may differ by the calls' round trips, but a window
// that moved with each call (a sliding one) moves by the time between them.
func checkSameWindow(t *testing.T, callName string, got, first counterCall) {
	t.Helper()
	slack := got.rtt() + first.rtt() + counterClockSlack
	if d := got.resetAt.Sub(first.resetAt); d < -slack || d > slack {
		t.Errorf("%s: resetAt = %v, want the first call's %v (±%v): one fixed window; it moved by %v",
			callName, got.resetAt, first.resetAt, slack, d)
	}
}

func testCounterIncr(t *testing.T, c auth.Counter) {
	var first counterCall
	for want := int64(1); want <= 3; want++ {
		if want > 1 {
			// Time between calls, for a sliding window to show.
			time.Sleep(20 * time.Millisecond)
		}
		r := incrCall(t, c, "k", counterLongWindow)
		if r.n != want {
			t.Fatalf("Incr(k, %v) #%d = %d, want %d", counterLongWindow, want, r.n, want)
		}
		if want == 1 {
			first = r
			checkStartsWindow(t, "Incr(k) #1", r, counterLongWindow)
			continue
		}
		checkSameWindow(t, fmt.Sprintf("Incr(k) #%d", want), r, first)
	}
}

func testCounterCount(t *testing.T, c auth.Counter) {
	if n, resetAt, err := c.Count(t.Context(), "k"); err != nil || n != 0 || !resetAt.IsZero() {
		t.Errorf("Count(k) before any Incr = %d, %v, %v; want 0, zero time, nil", n, resetAt, err)
	}
	first := incrCall(t, c, "k", counterLongWindow)
	incrCall(t, c, "k", counterLongWindow)
	for i := range 3 {
		r := countCall(t, c, "k")
		if r.n != 2 {
			t.Fatalf("Count(k) #%d after 2 Incr = %d, want 2: Count must not change the count", i+1, r.n)
		}
		checkSameWindow(t, "Count(k)", r, first)
	}
	if r := incrCall(t, c, "k", counterLongWindow); r.n != 3 {
		t.Errorf("Incr(k) after 2 Incr and 3 Count = %d, want 3", r.n)
	}
	if n, resetAt, err := c.Count(t.Context(), "absent"); err != nil || n != 0 || !resetAt.IsZero() {
		t.Errorf("Count(absent) beside a live key = %d, %v, %v; want 0, zero time, nil", n, resetAt, err)
	}
}

func testCounterReset(t *testing.T, c auth.Counter) {
	ctx := t.Context()
	for range 3 {
		incrCall(t, c, "k", counterLongWindow)
	}
	if err := c.Reset(ctx, "k"); err != nil {
		t.Fatalf("Reset(k) = %v", err)
	}
	if n, resetAt, err := c.Count(ctx, "k"); err != nil || n != 0 || !resetAt.IsZero() {
		t.Errorf("Count(k) after Reset = %d, %v, %v; want 0, zero time, nil", n, resetAt, err)
	}
	// A fresh window, of the length asked for now, not the old one's.
	r := incrCall(t, c, "k", counterShortWindow)
	if r.n != 1 {
		t.Errorf("Incr(k) after Reset = %d, want 1", r.n)
	}
	checkStartsWindow(t, "Incr(k) after Reset", r, counterShortWindow)
	if err := c.Reset(ctx, "absent"); err != nil {
		t.Errorf("Reset(absent) = %v, want nil: resetting nothing is not an error", err)
	}
}

func testCounterKeysIndependent(t *testing.T, c auth.Counter) {
	ctx := t.Context()
	// "a" is a prefix of the others: a backend that builds keys by
	// concatenation must not confuse them.
	keys := map[string]int64{"a": 3, "b": 1, "a:": 2, "ab": 4}
	for k, n := range keys {
		for range n {
			incrCall(t, c, k, counterLongWindow)
		}
	}
	for k, want := range keys {
		if r := countCall(t, c, k); r.n != want {
			t.Errorf("Count(%q) = %d, want %d", k, r.n, want)
		}
	}
	if err := c.Reset(ctx, "a"); err != nil {
		t.Fatalf("Reset(a) = %v", err)
	}
	delete(keys, "a")
	for k, want := range keys {
		if r := countCall(t, c, k); r.n != want {
			t.Errorf("Count(%q) after Reset(a) = %d, want %d", k, r.n, want)
		}
	}
}

// waitForExpiry polls Count(key) until it reports no window. The window that start (an Incr of window) began must count
// until it ends and not a moment after: a Count that began after the end
// (by this process's clock, give or take counterClockSlack) and still
// counted is a window that was extended, or never ended.
func waitForExpiry(t *testing.T, c auth.Counter, key string, start counterCall, window time.Duration) {
	t.Helper()
	earliest := start.before.Add(window - counterClockSlack) // it cannot have ended before
	latest := start.after.Add(window + counterClockSlack)    // nor still be going after
	for {
		r := countCall(t, c, key)
		switch {
		case r.n == 0 && r.after.Before(earliest):
			t.Fatalf("Count(%q) = 0 at %v, before its %v window could have ended (%v)",
				key, r.after, window, earliest)
		case r.n == 0:
			if !r.resetAt.IsZero() {
				t.Errorf("Count(%q) after its window = 0, %v; want 0, zero time", key, r.resetAt)
			}
			return
		case r.before.After(latest):
			t.Fatalf("Count(%q) = %d at %v, %v after its %v window ended (%v); want 0",
				key, r.n, r.before, r.before.Sub(latest), window, latest)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func testCounterWindowEnds(t *testing.T, c auth.Counter) {
	first := incrCall(t, c, "k", counterShortWindow)
	checkStartsWindow(t, "Incr(k)", first, counterShortWindow)
	// A second Incr a third of the way in must not move the end: with a
	// sliding window the key would outlive the first window by that much,
	// and waitForExpiry would catch it counting.
	time.Sleep(counterShortWindow / 3)
	r := incrCall(t, c, "k", counterShortWindow)
	if r.n != 2 {
		t.Fatalf("Incr(k) #2 = %d, want 2", r.n)
	}
	checkSameWindow(t, "Incr(k) #2", r, first)
	if r := countCall(t, c, "k"); r.n != 2 {
		t.Fatalf("Count(k) within its window = %d, want 2", r.n)
	}
	waitForExpiry(t, c, "k", first, counterShortWindow)
}

func testCounterNewWindow(t *testing.T, c auth.Counter) {
	first := incrCall(t, c, "k", counterShortWindow)
	incrCall(t, c, "k", counterShortWindow)
	waitForExpiry(t, c, "k", first, counterShortWindow)
	r := incrCall(t, c, "k", counterShortWindow)
	if r.n != 1 {
		t.Fatalf("Incr(k) after its window ended = %d, want 1: a new window", r.n)
	}
	checkStartsWindow(t, "Incr(k) after its window ended", r, counterShortWindow)
	if !r.resetAt.After(first.resetAt) {
		t.Errorf("Incr(k) after its window ended: resetAt = %v, want after the old window's %v", r.resetAt, first.resetAt)
	}
	if got := countCall(t, c, "k"); got.n != 1 {
		t.Errorf("Count(k) in the new window = %d, want 1", got.n)
	}
}

func testCounterConcurrent(t *testing.T, c auth.Counter) {
	const goroutines, each = 4, 50
	got := make([][]int64, goroutines)
	errs := make([]error, goroutines)
	Concurrently(goroutines, func(i int) {
		for range each {
			n, _, err := c.Incr(t.Context(), "k", counterLongWindow)
			if err != nil {
				errs[i] = err
				return
			}
			got[i] = append(got[i], n)
		}
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Incr(k) in goroutine %d = %v", i, err)
		}
	}
	all := slices.Concat(got...)
	slices.Sort(all)
	for i, n := range all {
		if n != int64(i+1) {
			t.Fatalf("Incr(k) from %d goroutines × %d: sorted counts[%d] = %d, want %d: each call must see its own count (counts %v)",
				goroutines, each, i, n, i+1, all)
		}
	}
	if r := countCall(t, c, "k"); r.n != goroutines*each {
		t.Errorf("Count(k) after %d goroutines × %d Incr = %d, want %d", goroutines, each, r.n, goroutines*each)
	}
}

func testCounterOddKeys(t *testing.T, c auth.Counter) {
	ctx := t.Context()
	tests := []struct {
		name, key string
	}{
		{name: "Colons", key: "ip:sign_in:2001:db8::1"},
		{name: "Spaces", key: " with  spaces "},
		{name: "Unicode", key: "ünïcødé ✓ 鍵"},
		{name: "Long", key: strings.Repeat("k", 200)},
		{name: "GlobChars", key: `*?[a-z]\`},
		{name: "Quotes", key: `'";--`},
		{name: "ControlChars", key: "tab\tnewline\n"},
	}
	// All Incr first, then all Count: a backend that mangles two keys into
	// one shows as a count of 4.
	for _, tc := range tests {
		for range 2 {
			incrCall(t, c, tc.key, counterLongWindow)
		}
	}
	for _, tc := range tests {
		if r := countCall(t, c, tc.key); r.n != 2 {
			t.Errorf("%s: Count(%q) after 2 Incr = %d, want 2", tc.name, tc.key, r.n)
		}
		if err := c.Reset(ctx, tc.key); err != nil {
			t.Errorf("%s: Reset(%q) = %v", tc.name, tc.key, err)
		}
		if r := countCall(t, c, tc.key); r.n != 0 {
			t.Errorf("%s: Count(%q) after Reset = %d, want 0", tc.name, tc.key, r.n)
		}
	}
}
