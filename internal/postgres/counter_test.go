package postgres

import (
	"sync"
	"testing"
	"time"
)

func TestCounter(t *testing.T) {
	t.Parallel()
	st, _ := newTestStore(t)
	c := st.Counter()
	ctx := t.Context()

	if n, resetAt, err := c.Count(ctx, "k"); err != nil || n != 0 || !resetAt.IsZero() {
		t.Errorf("Count(k) before any Incr = %d, %v, %v; want 0, zero time, nil", n, resetAt, err)
	}
	before := time.Now()
	var firstReset time.Time
	for want := int64(1); want <= 3; want++ {
		n, resetAt, err := c.Incr(ctx, "k", time.Hour)
		if err != nil || n != want {
			t.Fatalf("Incr(k, 1h) #%d = %d, %v; want %d, nil", want, n, err, want)
		}
		if want == 1 {
			firstReset = resetAt
		}
		if !resetAt.Equal(firstReset) || resetAt.Location() != time.UTC {
			t.Errorf("Incr(k, 1h) #%d: resetAt = %v, want the first window's end %v, in UTC", want, resetAt, firstReset)
		}
	}
	// The server's clock is this machine's in the tests; allow for skew anyway.
	if d := firstReset.Sub(before); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("Incr(k, 1h): window ends %v after the call, want about 1h", d)
	}
	if n, resetAt, err := c.Count(ctx, "k"); err != nil || n != 3 || !resetAt.Equal(firstReset) {
		t.Errorf("Count(k) = %d, %v, %v; want 3, %v, nil", n, resetAt, err, firstReset)
	}
	if n, _, err := c.Incr(ctx, "other", time.Hour); err != nil || n != 1 {
		t.Errorf("Incr(other) = %d, %v; want 1, nil: keys are independent", n, err)
	}
	if err := c.Reset(ctx, "k"); err != nil {
		t.Fatalf("Reset(k) = %v", err)
	}
	if n, _, err := c.Count(ctx, "k"); err != nil || n != 0 {
		t.Errorf("Count(k) after Reset = %d, %v; want 0, nil", n, err)
	}
	if n, _, err := c.Incr(ctx, "k", time.Hour); err != nil || n != 1 {
		t.Errorf("Incr(k) after Reset = %d, %v; want 1, nil", n, err)
	}
	if _, _, err := c.Incr(ctx, "k", 0); err == nil {
		t.Errorf("Incr(k, 0) = nil error, want an error")
	}
}

func TestCounter_WindowExpires(t *testing.T) {
	t.Parallel()
	st, _ := newTestStore(t)
	c := st.Counter()
	ctx := t.Context()
	const window = 200 * time.Millisecond

	var resetAt time.Time
	for range 2 {
		var err error
		if _, resetAt, err = c.Incr(ctx, "k", window); err != nil {
			t.Fatalf("Incr(k, %v) = %v", window, err)
		}
	}
	// The window is timed by the server's clock, which in these tests is
	// this machine's; the margin covers the difference in resolution.
	time.Sleep(time.Until(resetAt) + 20*time.Millisecond)
	if n, _, err := c.Count(ctx, "k"); err != nil || n != 0 {
		t.Errorf("Count(k) after its window = %d, %v; want 0, nil", n, err)
	}
	n, next, err := c.Incr(ctx, "k", window)
	if err != nil || n != 1 {
		t.Fatalf("Incr(k) after its window = %d, %v; want 1, nil: a new window", n, err)
	}
	if !next.After(resetAt) {
		t.Errorf("Incr(k) after its window: resetAt = %v, want after the old %v", next, resetAt)
	}

	// The expired row of another key is garbage and gets swept.
	if _, _, err := c.Incr(ctx, "gone", time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	deleted, err := c.DeleteExpired(ctx)
	if err != nil || deleted != 1 {
		t.Errorf("DeleteExpired() = %d, %v; want 1 (key gone), nil", deleted, err)
	}
	if n, _, err := c.Count(ctx, "k"); err != nil || n != 1 {
		t.Errorf("Count(k) after DeleteExpired = %d, %v; want 1, nil: a live window survives", n, err)
	}
}

func TestCounter_Concurrent(t *testing.T) {
	t.Parallel()
	st, _ := newTestStore(t)
	c := st.Counter()
	ctx := t.Context()
	const goroutines, each = 2, 100
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				if _, _, err := c.Incr(ctx, "k", time.Hour); err != nil {
					t.Errorf("Incr(k) = %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n, _, err := c.Count(ctx, "k"); err != nil || n != goroutines*each {
		t.Errorf("Count(k) after %d goroutines × %d Incr = %d, %v; want %d", goroutines, each, n, err, goroutines*each)
	}
}

func BenchmarkCounterIncr(b *testing.B) {
	st, _ := newTestStore(b)
	c := st.Counter()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.Incr(b.Context(), "k", time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}
