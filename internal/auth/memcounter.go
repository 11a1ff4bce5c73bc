package auth

import (
	"context"
	"slices"
	"sync"
	"time"
)

// MemoryCounter is the in-process Counter of the embedded default: one
// node, nothing shared, lost on restart.
//
// Its state is bounded per class (rate windows, back-offs, slots), and a
// full class never makes room by forgetting live state: that would be an
// attacker's reset button for every back-off. Expired entries are swept;
// if a class is still full, admissions that need a new key of it are
// refused (429) until entries expire, while keys already held keep
// working. So a flood of new addresses can only deny new addresses, and
// the back-off of an account under attack survives any flood.
type MemoryCounter struct {
	mu       sync.Mutex
	now      func() time.Time
	max      int
	rates    memClass[memRate]
	backoffs memClass[memBackoff]
	slots    memClass[[]memSlot]
}

type memClass[T any] struct {
	m         map[string]T
	nextSweep time.Time // a full class is swept at most once a second
}

type memRate struct {
	n       int64
	resetAt time.Time
}

type memBackoff struct {
	n               int64
	forgetAt, until time.Time
}

type memSlot struct {
	holder    string
	expiresAt time.Time
}

// DefaultMemoryCounterKeys is the serve command's bound per class: about
// 30 MiB of heap when every class is full (docs/security.md), within the
// 64 MiB its memory limit leaves beside hashing.
const DefaultMemoryCounterKeys = 100_000

// NewMemoryCounter returns a counter on clock now (time.Now if nil) that
// keeps at most max rate windows and max back-offs, and slots for max/10
// keys: a slot key lives only while a verification is in flight.
// docs/security.md gives the memory this takes at the bound.
func NewMemoryCounter(now func() time.Time, max int) *MemoryCounter {
	if now == nil {
		now = time.Now
	}
	return &MemoryCounter{
		now:      now,
		max:      max,
		rates:    memClass[memRate]{m: make(map[string]memRate)},
		backoffs: memClass[memBackoff]{m: make(map[string]memBackoff)},
		slots:    memClass[[]memSlot]{m: make(map[string][]memSlot)},
	}
}

// Admit implements Counter in one step under the mutex.
func (c *MemoryCounter) Admit(_ context.Context, a Admission) (Decision, error) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	var wait time.Duration
	refuse := func(d time.Duration) { wait = max(wait, d, time.Nanosecond) }
	for _, r := range a.Rates {
		e, ok := c.rates.m[r.Key]
		switch {
		case ok && now.Before(e.resetAt):
			if e.n >= r.Limit {
				refuse(e.resetAt.Sub(now))
			}
		case !room(&c.rates, c.max, now, func(e memRate) bool { return !now.Before(e.resetAt) }):
			refuse(slotRetry)
		}
	}
	for _, b := range a.Backoffs {
		e, ok := c.backoffs.m[b.Key]
		switch {
		case ok && now.Before(e.forgetAt):
			if now.Before(e.until) {
				refuse(e.until.Sub(now))
			}
		case !room(&c.backoffs, c.max, now, func(e memBackoff) bool { return !now.Before(e.forgetAt) }):
			refuse(slotRetry)
		}
	}
	for _, s := range a.Slots {
		held := liveSlots(c.slots.m[s.Key], now)
		c.slots.m[s.Key] = held
		switch {
		case int64(len(held)) >= s.Max:
			refuse(slotRetry)
		case len(held) == 0 && !room(&c.slots, max(1, c.max/10), now, func(e []memSlot) bool { return len(liveSlots(e, now)) == 0 }):
			refuse(slotRetry)
		}
		if len(held) == 0 {
			delete(c.slots.m, s.Key) // not taken yet: the room check must not count it
		}
	}
	if wait > 0 {
		return Decision{RetryAfter: wait}, nil
	}
	for _, r := range a.Rates {
		e := c.rates.m[r.Key]
		if !now.Before(e.resetAt) {
			e = memRate{resetAt: now.Add(r.Window)}
		}
		e.n++
		c.rates.m[r.Key] = e
	}
	for _, b := range a.Backoffs {
		e := c.backoffs.m[b.Key]
		if !now.Before(e.forgetAt) {
			e = memBackoff{forgetAt: now.Add(b.Memory)}
		}
		e.n++
		if d := BackoffDelay(e.n, b.Free, b.MaxDelay); d > 0 {
			e.until = maxTime(e.until, now.Add(d))
			e.forgetAt = maxTime(e.forgetAt, e.until)
		}
		c.backoffs.m[b.Key] = e
	}
	for _, s := range a.Slots {
		c.slots.m[s.Key] = append(c.slots.m[s.Key], memSlot{a.Holder, now.Add(a.SlotTTL)})
	}
	return Decision{Admitted: true}, nil
}

// Settle implements Counter.
func (c *MemoryCounter) Settle(_ context.Context, s Settlement) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range s.Clear {
		delete(c.backoffs.m, k)
	}
	for _, k := range s.Release {
		held := slices.DeleteFunc(c.slots.m[k], func(e memSlot) bool { return e.holder == s.Holder })
		if len(held) == 0 {
			delete(c.slots.m, k)
		} else {
			c.slots.m[k] = held
		}
	}
	return nil
}

// room reports whether class has room for one more key, sweeping expired
// entries first when it is full; never more than once a second, so a
// flood against a full class costs no more than one sweep a second.
func room[T any](class *memClass[T], max int, now time.Time, expired func(T) bool) bool {
	if len(class.m) < max {
		return true
	}
	if now.Before(class.nextSweep) {
		return false
	}
	class.nextSweep = now.Add(time.Second)
	for k, e := range class.m {
		if expired(e) {
			delete(class.m, k)
		}
	}
	return len(class.m) < max
}

func liveSlots(held []memSlot, now time.Time) []memSlot {
	return slices.DeleteFunc(held, func(e memSlot) bool { return !now.Before(e.expiresAt) })
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
