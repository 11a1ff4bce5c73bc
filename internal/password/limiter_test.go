package password_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/password"
)

// waitFor polls cond until it holds, failing the test after a generous
// deadline. Used to wait for a goroutine to block in Acquire, which has no
// other observable signal.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestLimiterBoundsConcurrency(t *testing.T) {
	t.Parallel()
	const slots, callers = 3, 24
	l := password.NewLimiter(slots, 5*time.Second)
	var (
		holding, peak atomic.Int64
		wg            sync.WaitGroup
		failures      atomic.Int64
	)
	for range callers {
		wg.Go(func() {
			release, _, err := l.Acquire(context.Background(), "")
			if err != nil {
				failures.Add(1)
				return
			}
			defer release()
			n := holding.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			if in := l.InFlight(); in > slots {
				t.Errorf("InFlight() = %d while holding, want <= %d", in, slots)
			}
			time.Sleep(time.Millisecond) // hold long enough for others to pile up
			holding.Add(-1)
		})
	}
	wg.Wait()
	if n := failures.Load(); n != 0 {
		t.Errorf("%d of %d Acquire calls failed, want 0", n, callers)
	}
	if p := peak.Load(); p > slots {
		t.Errorf("peak concurrent holders = %d, want <= %d", p, slots)
	}
	if in, w := l.InFlight(), l.Waiting(); in != 0 || w != 0 {
		t.Errorf("after all released InFlight() = %d, Waiting() = %d, want 0, 0", in, w)
	}
}

func TestLimiterBusyAfterMaxWait(t *testing.T) {
	t.Parallel()
	const maxWait = 20 * time.Millisecond
	l := password.NewLimiter(1, maxWait)
	hold, _, err := l.Acquire(context.Background(), "")
	if err != nil {
		t.Fatalf("first Acquire: %v", err)
	}
	defer hold()

	release, waited, err := l.Acquire(context.Background(), "")
	release() // a no-op on error, and must be safe to call
	if !errors.Is(err, password.ErrBusy) {
		t.Fatalf("Acquire on a full limiter = %v, want ErrBusy", err)
	}
	if waited < maxWait {
		t.Errorf("Acquire waited %v before ErrBusy, want >= %v", waited, maxWait)
	}
	if in, w := l.InFlight(), l.Waiting(); in != 1 || w != 0 {
		t.Errorf("after ErrBusy InFlight() = %d, Waiting() = %d, want 1, 0", in, w)
	}
}

func TestLimiterZeroMaxWaitFailsFast(t *testing.T) {
	t.Parallel()
	l := password.NewLimiter(1, 0)
	hold, _, err := l.Acquire(context.Background(), "")
	if err != nil {
		t.Fatalf("first Acquire: %v", err)
	}
	defer hold()
	if _, waited, err := l.Acquire(context.Background(), ""); !errors.Is(err, password.ErrBusy) || waited != 0 {
		t.Errorf("Acquire on a full limiter with maxWait 0 = %v after %v, want ErrBusy after 0", err, waited)
	}
}

func TestLimiterContextCancel(t *testing.T) {
	t.Parallel()
	l := password.NewLimiter(1, time.Minute)
	hold, _, err := l.Acquire(context.Background(), "")
	if err != nil {
		t.Fatalf("first Acquire: %v", err)
	}
	defer hold()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, _, err := l.Acquire(ctx, "")
		done <- err
	}()
	waitFor(t, "Waiting() == 1", func() bool { return l.Waiting() == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Acquire after cancel = %v, want context.Canceled", err)
	}
	if w := l.Waiting(); w != 0 {
		t.Errorf("Waiting() after cancel = %d, want 0", w)
	}
}

func TestLimiterDoneContextWithFreeSlot(t *testing.T) {
	t.Parallel()
	l := password.NewLimiter(1, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// A request whose client has gone should not start a hash, even if it
	// could.
	if _, _, err := l.Acquire(ctx, ""); !errors.Is(err, context.Canceled) {
		t.Errorf("Acquire(cancelled ctx) = %v, want context.Canceled", err)
	}
	if in := l.InFlight(); in != 0 {
		t.Errorf("InFlight() after refused Acquire = %d, want 0", in)
	}
}

func TestLimiterWaiterGetsReleasedSlot(t *testing.T) {
	t.Parallel()
	l := password.NewLimiter(1, time.Minute)
	hold, waited, err := l.Acquire(context.Background(), "")
	if err != nil || waited != 0 {
		t.Fatalf("first Acquire = %v after %v, want nil after 0", err, waited)
	}
	if in := l.InFlight(); in != 1 {
		t.Errorf("InFlight() while held = %d, want 1", in)
	}

	type result struct {
		release func()
		waited  time.Duration
		err     error
	}
	done := make(chan result, 1)
	go func() {
		release, waited, err := l.Acquire(context.Background(), "")
		done <- result{release, waited, err}
	}()
	waitFor(t, "Waiting() == 1", func() bool { return l.Waiting() == 1 })
	hold()
	r := <-done
	if r.err != nil {
		t.Fatalf("waiting Acquire = %v, want nil", r.err)
	}
	if r.waited <= 0 {
		t.Errorf("waiting Acquire waited %v, want > 0", r.waited)
	}
	if in, w := l.InFlight(), l.Waiting(); in != 1 || w != 0 {
		t.Errorf("after hand-over InFlight() = %d, Waiting() = %d, want 1, 0", in, w)
	}
	r.release()
	if in := l.InFlight(); in != 0 {
		t.Errorf("InFlight() after release = %d, want 0", in)
	}
}

func TestLimiterDoubleReleaseHarmless(t *testing.T) {
	t.Parallel()
	l := password.NewLimiter(1, 20*time.Millisecond)
	first, _, err := l.Acquire(context.Background(), "")
	if err != nil {
		t.Fatalf("first Acquire: %v", err)
	}
	first()
	second, _, err := l.Acquire(context.Background(), "")
	if err != nil {
		t.Fatalf("second Acquire: %v", err)
	}
	defer second()
	// If this freed a slot, it would be the second holder's.
	first()
	if in := l.InFlight(); in != 1 {
		t.Errorf("InFlight() after double release = %d, want 1", in)
	}
	if _, _, err := l.Acquire(context.Background(), ""); !errors.Is(err, password.ErrBusy) {
		t.Errorf("Acquire while second holds the only slot = %v, want ErrBusy", err)
	}
}

func TestNewLimiterRejectsNoSlots(t *testing.T) {
	t.Parallel()
	for _, slots := range []int{0, -1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewLimiter(%d, ...) did not panic", slots)
				}
			}()
			password.NewLimiter(slots, time.Second)
		}()
	}
}

func TestDefaultSlots(t *testing.T) {
	t.Parallel()
	if n, want := password.DefaultSlots(), runtime.GOMAXPROCS(0); n != want {
		t.Errorf("DefaultSlots() = %d, want GOMAXPROCS = %d", n, want)
	}
}

func BenchmarkLimiterAcquire(b *testing.B) {
	l := password.NewLimiter(password.DefaultSlots(), time.Second)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		release, _, err := l.Acquire(ctx, "")
		if err != nil {
			b.Fatal(err)
		}
		release()
	}
}

func TestLimiterMaxWaitingRefusesAtOnce(t *testing.T) {
	l := password.NewLimiter(1, time.Minute, password.MaxWaiting(1))
	release, _, err := l.Acquire(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	waiter := make(chan error, 1)
	go func() {
		r, _, err := l.Acquire(t.Context(), "")
		r()
		waiter <- err
	}()
	for l.Waiting() != 1 {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	if _, _, err := l.Acquire(t.Context(), ""); !errors.Is(err, password.ErrBusy) {
		t.Fatalf("Acquire with the queue full: got %v, want ErrBusy", err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("Acquire with the queue full took %v, want an immediate refusal", d)
	}
	release()
	if err := <-waiter; err != nil {
		t.Errorf("the queued caller: got %v, want a slot", err)
	}
}

// TestLimiterKeyShare is issue 8's: one self-registered account calling
// PUT /v1/auth/password in a loop filled every hash slot, and other users'
// sign-ins got ErrBusy (503). One key now holds at most half the slots;
// its excess waits behind it, and another key is served at once.
func TestLimiterKeyShare(t *testing.T) {
	t.Parallel()
	l := password.NewLimiter(2, 200*time.Millisecond, password.MaxWaiting(4))
	hold, _, err := l.Acquire(context.Background(), "flood")
	if err != nil {
		t.Fatalf("Acquire(flood) #1: %v", err)
	}
	defer hold()
	var busy atomic.Int64
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			release, _, err := l.Acquire(context.Background(), "flood")
			if err != nil {
				busy.Add(1)
				return
			}
			release()
		})
	}
	waitFor(t, "the flood to queue", func() bool { return busy.Load() > 0 })
	if n := l.InFlight(); n != 1 {
		t.Errorf("InFlight with one key flooding = %d, want 1 (its share of 2 slots)", n)
	}
	release, waited, err := l.Acquire(context.Background(), "other")
	if err != nil {
		t.Fatalf("Acquire(other) while flood floods = %v, want a slot", err)
	}
	release()
	if waited > 0 {
		t.Errorf("Acquire(other) waited %v, want none: half the slots are its to take", waited)
	}
	wg.Wait()
}
