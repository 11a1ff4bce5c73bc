package auth

import (
	"context"
	"sync"
	"time"
)

// MemoryCounter is the in-process Counter of the embedded default: one
// node, nothing shared. Counts are lost on restart; what must survive (an
// account lock) is written to the Store.
type MemoryCounter struct {
	mu      sync.Mutex
	m       map[string]memCount
	now     func() time.Time
	max     int
	sweepAt time.Time
}

type memCount struct {
	n       int64
	resetAt time.Time
}

// NewMemoryCounter returns a counter on clock now (time.Now if nil) that
// keeps at most max keys; past that, expired keys are swept and, if that
// is not enough, the key space is cleared rather than grown: an attacker
// spraying keys must not exhaust memory.
func NewMemoryCounter(now func() time.Time, max int) *MemoryCounter {
	if now == nil {
		now = time.Now
	}
	return &MemoryCounter{m: make(map[string]memCount), now: now, max: max}
}

// Incr implements Counter.
func (c *MemoryCounter) Incr(_ context.Context, key string, window time.Duration) (int64, time.Time, error) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || !now.Before(e.resetAt) {
		if !ok && len(c.m) >= c.max {
			c.sweepLocked(now)
		}
		e = memCount{resetAt: now.Add(window)}
	}
	e.n++
	c.m[key] = e
	return e.n, e.resetAt, nil
}

// Count implements Counter.
func (c *MemoryCounter) Count(_ context.Context, key string) (int64, time.Time, error) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || !now.Before(e.resetAt) {
		return 0, time.Time{}, nil
	}
	return e.n, e.resetAt, nil
}

// Reset implements Counter.
func (c *MemoryCounter) Reset(_ context.Context, key string) error {
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
	return nil
}

func (c *MemoryCounter) sweepLocked(now time.Time) {
	for k, e := range c.m {
		if !now.Before(e.resetAt) {
			delete(c.m, k)
		}
	}
	if len(c.m) >= c.max {
		clear(c.m)
	}
}
