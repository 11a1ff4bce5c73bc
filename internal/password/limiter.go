package password

import (
	"context"
	"errors"
	"runtime"
	"sync"
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
//
// Each caller names whose work it does (an account, an address), and one
// key holds at most half the slots (at least one), its excess callers
// queueing behind it: one account flooding its own password checks, or
// one address registering, cannot starve everyone else into ErrBusy.
type Limiter struct {
	slots      chan struct{} // one element per held slot
	maxWait    time.Duration
	maxWaiting int64 // 0: no bound
	waiting    atomic.Int64
	share      int // slots one key may hold

	mu   sync.Mutex
	keys map[string]*keyShare
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
	l := &Limiter{slots: make(chan struct{}, slots), maxWait: maxWait, share: max(1, slots/2), keys: make(map[string]*keyShare)}
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

// Acquire takes a slot for key, waiting until one is free, ctx is done
// (ctx.Err()), or the limiter's maximum wait has passed (ErrBusy). A key
// holds at most its share of the slots; its further callers wait behind
// it, not in the common queue, and past half the common queue's bound
// get ErrBusy at once. The empty key has no share (tests, single-user
// tools). waited is how long it waited, for metrics. On success the
// caller must call release once when the hash is done; calling it again
// does nothing, so a defer plus an early release is safe. On error
// release is a no-op.
func (l *Limiter) Acquire(ctx context.Context, key string) (release func(), waited time.Duration, err error) {
	if err := ctx.Err(); err != nil {
		return noop, 0, err
	}
	if key == "" {
		return l.acquire(ctx, l.maxWait)
	}
	ks := l.enter(key)
	if ks == nil {
		return noop, 0, ErrBusy
	}
	ok, waited := l.wait(ctx, ks.held, l.maxWait)
	if !ok {
		l.leave(key)
		return noop, waited, busyOr(ctx)
	}
	free, w, err := l.acquire(ctx, l.maxWait-waited)
	waited += w
	if err != nil {
		<-ks.held
		l.leave(key)
		return noop, waited, err
	}
	var done atomic.Bool
	return func() {
		if done.CompareAndSwap(false, true) {
			free()
			<-ks.held
			l.leave(key)
		}
	}, waited, nil
}

// keyShare is one key's share of the slots.
type keyShare struct {
	held  chan struct{} // one element per slot the key holds
	users int           // callers holding or waiting; dropped at 0
}

// enter registers a caller of key, or returns nil if key already has as
// many callers as it may.
func (l *Limiter) enter(key string) *keyShare {
	l.mu.Lock()
	defer l.mu.Unlock()
	ks := l.keys[key]
	if ks == nil {
		ks = &keyShare{held: make(chan struct{}, l.share)}
		l.keys[key] = ks
	}
	if l.maxWaiting > 0 && int64(ks.users) >= int64(l.share)+max(1, l.maxWaiting/2) {
		return nil
	}
	ks.users++
	return ks
}

func (l *Limiter) leave(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ks := l.keys[key]; ks != nil {
		if ks.users--; ks.users == 0 {
			delete(l.keys, key)
		}
	}
}

// wait puts one element into ch, waiting at most maxWait; false if it
// could not. waited is zero if ch had room at once.
func (l *Limiter) wait(ctx context.Context, ch chan struct{}, maxWait time.Duration) (ok bool, waited time.Duration) {
	select {
	case ch <- struct{}{}:
		return true, 0
	default:
	}
	if maxWait <= 0 {
		return false, 0
	}
	start := time.Now()
	timer := time.NewTimer(maxWait)
	defer timer.Stop()
	select {
	case ch <- struct{}{}:
		return true, time.Since(start)
	case <-ctx.Done():
		return false, time.Since(start)
	case <-timer.C:
		return false, time.Since(start)
	}
}

func busyOr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return ErrBusy
}

func (l *Limiter) acquire(ctx context.Context, maxWait time.Duration) (release func(), waited time.Duration, err error) {
	select {
	case l.slots <- struct{}{}:
		return l.releaser(), 0, nil
	default:
	}
	if maxWait <= 0 {
		return noop, 0, ErrBusy
	}

	n := l.waiting.Add(1)
	defer l.waiting.Add(-1)
	if l.maxWaiting > 0 && n > l.maxWaiting {
		return noop, 0, ErrBusy
	}
	ok, w := l.wait(ctx, l.slots, maxWait)
	if !ok {
		return noop, w, busyOr(ctx)
	}
	return l.releaser(), w, nil
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
