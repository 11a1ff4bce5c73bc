package authtest

import (
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	start := time.Date(2025, time.March, 14, 9, 26, 53, 0, time.UTC)
	c := NewClock(start)
	if got := c.Now(); !got.Equal(start) {
		t.Errorf("NewClock(%v).Now() = %v, want %v", start, got, start)
	}
	if got := c.Now(); !got.Equal(start) {
		t.Errorf("Now() a second time = %v, want %v: the clock must not move by itself", got, start)
	}
	c.Advance(90 * time.Second)
	if got, want := c.Now(), start.Add(90*time.Second); !got.Equal(want) {
		t.Errorf("Now() after Advance(90s) = %v, want %v", got, want)
	}
	c.Advance(-30 * time.Second)
	if got, want := c.Now(), start.Add(time.Minute); !got.Equal(want) {
		t.Errorf("Now() after Advance(-30s) = %v, want %v", got, want)
	}
}

func TestClock_Concurrent(t *testing.T) {
	start := time.Date(2025, time.March, 14, 9, 26, 53, 0, time.UTC)
	c := NewClock(start)
	const goroutines, steps = 8, 100
	Concurrently(goroutines, func(int) {
		for range steps {
			c.Advance(time.Millisecond)
			_ = c.Now()
		}
	})
	if got, want := c.Now(), start.Add(goroutines*steps*time.Millisecond); !got.Equal(want) {
		t.Errorf("Now() after %d concurrent Advance(1ms) = %v, want %v", goroutines*steps, got, want)
	}
}
