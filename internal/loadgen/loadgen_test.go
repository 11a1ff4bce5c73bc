package loadgen

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunCountsCallsInTheWindow(t *testing.T) {
	t.Parallel()
	var calls [4]atomic.Int64
	o := Options{Concurrency: 4, Warmup: 50 * time.Millisecond, Duration: 300 * time.Millisecond}
	start := time.Now()
	r := Run(context.Background(), o, func(ctx context.Context, w int) error {
		calls[w].Add(1)
		time.Sleep(2 * time.Millisecond)
		return nil
	})
	took := time.Since(start)

	// 4 workers × 300ms / ≥2ms per call: at most 600; a loaded machine
	// sleeps longer, so only the upper bound is tight.
	if r.Requests < 50 || r.Requests > 600 {
		t.Errorf("Run: Requests = %d, want 50..600", r.Requests)
	}
	if r.Errors != 0 || r.FirstError != "" {
		t.Errorf("Run: Errors = %d (%q), want 0", r.Errors, r.FirstError)
	}
	if r.Elapsed != o.Duration {
		t.Errorf("Run: Elapsed = %v, want %v", r.Elapsed, o.Duration)
	}
	if want := float64(r.Requests) / o.Duration.Seconds(); r.RPS != want {
		t.Errorf("Run: RPS = %v, want Requests/Elapsed = %v", r.RPS, want)
	}
	if r.P50 < 2*time.Millisecond || r.P50 > r.P90 || r.P90 > r.P99 || r.P99 > r.Max {
		t.Errorf("Run: P50 %v, P90 %v, P99 %v, Max %v: want 2ms ≤ P50 ≤ P90 ≤ P99 ≤ Max", r.P50, r.P90, r.P99, r.Max)
	}
	for w := range calls {
		if calls[w].Load() == 0 {
			t.Errorf("worker %d was never called", w)
		}
	}
	if took < o.Warmup+o.Duration || took > o.Warmup+o.Duration+time.Second {
		t.Errorf("Run took %v, want about %v", took, o.Warmup+o.Duration)
	}
}

func TestRunCountsErrorsApart(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	r := Run(context.Background(), Options{Concurrency: 2, Duration: 100 * time.Millisecond}, func(ctx context.Context, w int) error {
		time.Sleep(time.Millisecond)
		if n.Add(1)%2 == 0 {
			return errors.New("status 503")
		}
		return nil
	})
	if r.Errors == 0 || r.Requests == 0 {
		t.Fatalf("Run: Requests = %d, Errors = %d, want both > 0", r.Requests, r.Errors)
	}
	if d := r.Requests - r.Errors; d < -2 || d > 2 {
		t.Errorf("Run: Requests = %d, Errors = %d, want about equal", r.Requests, r.Errors)
	}
	if r.FirstError != "status 503" {
		t.Errorf("Run: FirstError = %q, want %q", r.FirstError, "status 503")
	}
}

func TestRunStopsWhenWorkRunsOut(t *testing.T) {
	t.Parallel()
	var left atomic.Int64
	left.Store(100)
	start := time.Now()
	r := Run(context.Background(), Options{Concurrency: 3, Duration: 10 * time.Second}, func(ctx context.Context, w int) error {
		if left.Add(-1) < 0 {
			return ErrStop
		}
		return nil
	})
	if r.Requests != 100 {
		t.Errorf("Run: Requests = %d, want 100 (the whole supply)", r.Requests)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Run took %v after the work ran out, want it to return early", took)
	}
	if r.Elapsed <= 0 || r.Elapsed >= time.Second {
		t.Errorf("Run: Elapsed = %v, want the short time the work lasted", r.Elapsed)
	}
}

func TestRunIsBoundedInTime(t *testing.T) {
	t.Parallel()
	o := Options{Concurrency: 2, Duration: 100 * time.Millisecond, Grace: 100 * time.Millisecond}
	start := time.Now()
	r := Run(context.Background(), o, func(ctx context.Context, w int) error {
		<-ctx.Done() // a call that hangs until cancelled
		return ctx.Err()
	})
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Run with hanging calls took %v, want about Duration+Grace = 200ms", took)
	}
	if r.Requests != 0 {
		t.Errorf("Run: Requests = %d, want 0", r.Requests)
	}
}

func TestRunEndsWithItsContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	Run(ctx, Options{Concurrency: 2, Duration: time.Minute}, func(ctx context.Context, w int) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
			return nil
		}
	})
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Run after its context ended took %v, want it to return promptly", took)
	}
}

func TestRunReportsProgress(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []Progress
	o := Options{
		Concurrency: 1, Warmup: 200 * time.Millisecond, Duration: 150 * time.Millisecond, ProgressEvery: 20 * time.Millisecond,
		Progress: func(p Progress) { mu.Lock(); got = append(got, p); mu.Unlock() },
	}
	Run(context.Background(), o, func(ctx context.Context, w int) error { time.Sleep(time.Millisecond); return nil })
	mu.Lock()
	defer mu.Unlock()
	if len(got) < 3 {
		t.Fatalf("Progress called %d times, want several", len(got))
	}
	if !got[0].Warmup || got[len(got)-1].Warmup {
		t.Errorf("Progress: first Warmup %v, last Warmup %v, want true then false", got[0].Warmup, got[len(got)-1].Warmup)
	}
	if want := o.Warmup + o.Duration; got[0].Total != want {
		t.Errorf("Progress: Total = %v, want %v", got[0].Total, want)
	}
}

func TestRunMetersCPUOverTheWindow(t *testing.T) {
	t.Parallel()
	start := time.Now()
	// A fake counter that runs with the wall clock, as a process using
	// one core would.
	clock := func() time.Duration { return time.Since(start) }
	o := Options{Concurrency: 1, Warmup: 100 * time.Millisecond, Duration: 200 * time.Millisecond, CPU: clock}
	r := Run(context.Background(), o, func(ctx context.Context, w int) error { time.Sleep(time.Millisecond); return nil })
	// Timers fire late on a busy machine, so allow some slack.
	if r.CPU < 150*time.Millisecond || r.CPU > 500*time.Millisecond {
		t.Errorf("Run: CPU = %v, want about the 200ms window", r.CPU)
	}
	if got, want := r.CPUPerCall(), r.CPU/time.Duration(r.Requests); got != want {
		t.Errorf("CPUPerCall() = %v, want CPU/Requests = %v", got, want)
	}
}
