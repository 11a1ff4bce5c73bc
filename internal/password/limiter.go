package password

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"time"
)

// ErrBusy is returned by Limiter.Acquire when no slot frees up within the
// limiter's maximum wait.
var ErrBusy = errors.New("password: hashing capacity exhausted")

// Limiter bounds the number of hashes in flight. Each argon2id hash holds
// Params.Memory for its duration, so peak hashing memory is about
// slots × Params.Memory; without a bound a sign-in flood would exhaust memory
// long before it exhausted CPU. Callers that cannot get a slot in time fail
// fast with ErrBusy rather than queue without limit.
type Limiter struct {
	slots      chan struct{} // one element per held slot
	maxWait    time.Duration
	maxWaiting int64 // 0: no bound
	waiting    atomic.Int64
}

// LimiterOption configures a Limiter.
type LimiterOption func(*Limiter)

// MaxWaiting bounds how many callers may wait for a slot at once; past
// that Acquire fails with ErrBusy at once. A flood then gets immediate
// refusals instead of each refusal costing the full maximum wait.
func MaxWaiting(n int) LimiterOption {
	return func(l *Limiter) { l.maxWaiting = int64(n) }
}

// NewLimiter returns a Limiter with slots concurrent holders, where a caller
// waits at most maxWait for a slot (maxWait <= 0 means do not wait at all).
// It panics if slots < 1, a configuration mistake.
func NewLimiter(slots int, maxWait time.Duration, opts ...LimiterOption) *Limiter {
	if slots < 1 {
		panic("password: NewLimiter: slots must be at least 1")
	}
	l := &Limiter{slots: make(chan struct{}, slots), maxWait: maxWait}
	for _, o := range opts {
		o(l)
	}
	return l
}

// DefaultSlots returns GOMAXPROCS: one hash per core. Hashing is
// CPU-bound and each argon2id hash sweeps 19 MiB, so more hashes than cores
// only compete for the caches: on the 2-core reference machine 2 slots
// sign in ~10% more users per second than 4, with half the memory
// (docs/benchmarks.md).
func DefaultSlots() int { return runtime.GOMAXPROCS(0) }

// Acquire takes a slot, waiting until one is free, ctx is done (ctx.Err()),
// or the limiter's maximum wait has passed (ErrBusy). waited is how long it
// waited, for metrics. On success the caller must call release once when the
// hash is done; calling it again does nothing, so a defer plus an early
// release is safe. On error release is a no-op.
func (l *Limiter) Acquire(ctx context.Context) (release func(), waited time.Duration, err error) {
	if err := ctx.Err(); err != nil {
		return noop, 0, err
	}
	select {
	case l.slots <- struct{}{}:
		return l.releaser(), 0, nil
	default:
	}
	if l.maxWait <= 0 {
		return noop, 0, ErrBusy
	}

	n := l.waiting.Add(1)
	defer l.waiting.Add(-1)
	if l.maxWaiting > 0 && n > l.maxWaiting {
		return noop, 0, ErrBusy
	}
	start := time.Now()
	timer := time.NewTimer(l.maxWait)
	defer timer.Stop()
	select {
	case l.slots <- struct{}{}:
		return l.releaser(), time.Since(start), nil
	case <-ctx.Done():
		return noop, time.Since(start), ctx.Err()
	case <-timer.C:
		return noop, time.Since(start), ErrBusy
	}
}

// releaser returns a release func that frees one slot at most once, so a
// double call cannot free a slot some other caller holds.
func (l *Limiter) releaser() func() {
	var done atomic.Bool
	return func() {
		if done.CompareAndSwap(false, true) {
			<-l.slots
		}
	}
}

func noop() {}

// InFlight returns the number of slots held now.
func (l *Limiter) InFlight() int { return len(l.slots) }

// Waiting returns the number of callers waiting for a slot now.
func (l *Limiter) Waiting() int { return int(l.waiting.Load()) }
