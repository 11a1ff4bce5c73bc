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
	devices  memClass[memBackoff] // known devices' back-offs
	slots    memClass[[]memSlot]
}

type memClass[T any] struct {
	m         map[string]T
	nextSweep int64 // a full class is swept at most once a second
}

// Times are Unix nanoseconds: a time.Time is three times the size, and
// at the bound the entries are most of the counter's memory.
type memRate struct {
	n, resetAt int64
}

type memBackoff struct {
	n, forgetAt, until int64
}

type memSlot struct {
	holder    string
	expiresAt int64
}

// DefaultMemoryCounterKeys is the serve command's bound per class: 32 MiB
// of heap when every class is full (docs/security.md), within the 64 MiB
// its memory limit leaves beside hashing.
const DefaultMemoryCounterKeys = 100_000

// NewMemoryCounter returns a counter on clock now (time.Now if nil) that
// keeps at most max rate windows, max back-offs of unknown devices and max
// of known ones, and slots for max/10 keys: a slot key lives only while a
// verification is in flight.
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
		devices:  memClass[memBackoff]{m: make(map[string]memBackoff)},
		slots:    memClass[[]memSlot]{m: make(map[string][]memSlot)},
	}
}

// Admit implements Counter in one step under the mutex.
func (c *MemoryCounter) Admit(_ context.Context, a Admission) (Decision, error) {
	now := c.now().UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	var wait time.Duration
	refuse := func(d time.Duration) { wait = max(wait, d, time.Nanosecond) }
	for _, r := range a.Rates {
		e, ok := c.rates.m[r.Key]
		switch {
		case ok && now < e.resetAt:
			if e.n >= r.Limit {
				refuse(time.Duration(e.resetAt - now))
			}
		case !room(&c.rates, c.max, now, func(e memRate) bool { return now >= e.resetAt }):
			refuse(slotRetry)
		}
	}
	for _, b := range a.Backoffs {
		class := c.backoffClass(b)
		e, ok := class.m[b.Key]
		switch {
		case ok && now < e.forgetAt:
			if now < e.until {
				refuse(time.Duration(e.until - now))
			}
		case !room(class, c.max, now, func(e memBackoff) bool { return now >= e.forgetAt }):
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
		if now >= e.resetAt {
			e = memRate{resetAt: now + int64(r.Window)}
		}
		e.n++
		c.rates.m[r.Key] = e
	}
	for _, b := range a.Backoffs {
		class := c.backoffClass(b)
		e := class.m[b.Key]
		if now >= e.forgetAt {
			e = memBackoff{forgetAt: now + int64(b.Memory)}
		}
		e.n++
		if d := BackoffDelay(e.n, b.Free, b.MaxDelay); d > 0 {
			e.until = max(e.until, now+int64(d))
			e.forgetAt = max(e.forgetAt, e.until)
		}
		class.m[b.Key] = e
	}
	for _, s := range a.Slots {
		c.slots.m[s.Key] = append(c.slots.m[s.Key], memSlot{a.Holder, now + int64(a.SlotTTL)})
	}
	return Decision{Admitted: true}, nil
}

// Settle implements Counter.
func (c *MemoryCounter) Settle(_ context.Context, s Settlement) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range s.Clear {
		delete(c.backoffs.m, k)
		delete(c.devices.m, k)
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

func (c *MemoryCounter) backoffClass(b Backoff) *memClass[memBackoff] {
	if b.Device {
		return &c.devices
	}
	return &c.backoffs
}

// room reports whether class has room for one more key, sweeping expired
// entries first when it is full; never more than once a second, so a
// flood against a full class costs no more than one sweep a second.
func room[T any](class *memClass[T], max int, now int64, expired func(T) bool) bool {
	if len(class.m) < max {
		return true
	}
	if now < class.nextSweep {
		return false
	}
	class.nextSweep = now + int64(time.Second)
	for k, e := range class.m {
		if expired(e) {
			delete(class.m, k)
		}
	}
	return len(class.m) < max
}

func liveSlots(held []memSlot, now int64) []memSlot {
	return slices.DeleteFunc(held, func(e memSlot) bool { return now >= e.expiresAt })
}
