package auth

import (
	"context"
	"time"
)

// Counter keeps the budgets behind rate limits, back-off and in-flight
// caps, shared by every node that uses the same backend: in-process for
// the embedded default, Redis or PostgreSQL for several nodes, so that N
// nodes enforce one budget, not N.
//
// A request claims all its budgets in one atomic Admit and gives back
// what it must in one Settle: two round trips per sign-in at most. The
// older design checked the back-off before hashing and counted the
// failure after it, so every request in flight got past a check that
// nothing had counted yet: 100 concurrent guesses were all verified.
// Admit checks and takes in one step, so the 21st concurrent guess is
// refused however many arrive together.
type Counter interface {
	// Admit checks every budget of a and, only if none refuses, takes
	// from each of them; otherwise it takes nothing and says how long the
	// refusing budgets need. Atomic across all nodes sharing the backend.
	Admit(ctx context.Context, a Admission) (Decision, error)
	// Settle forgets s.Clear and frees s.Holder's slots on s.Release.
	// Settling what is already gone is not an error.
	Settle(ctx context.Context, s Settlement) error
}

// Admission is one request's claim on its budgets.
type Admission struct {
	Rates    []Rate
	Backoffs []Backoff
	Slots    []Slot
	// Holder names this request's slots, for Settle to free; random, so
	// two requests never share one.
	Holder string
	// SlotTTL is how long a slot is held if it is never settled (a node
	// that died mid-hash): past it the slot frees itself.
	SlotTTL time.Duration
}

// Rate is a fixed-window budget: Limit takes per Window, the window
// starting at the first take after the previous one ended.
type Rate struct {
	Key    string
	Limit  int64
	Window time.Duration
}

// Backoff is an exponential back-off on failures. Each admitted attempt
// is counted as a failure before it is verified (a success clears it
// again in Settle); past Free, each one blocks the key for
// 1 s × 2^(count−Free−1), capped at MaxDelay. A block is only ever
// extended, never shortened. The count is forgotten Memory after the
// first failure, or when the block ends, whichever is later.
type Backoff struct {
	Key      string
	Free     int64
	MaxDelay time.Duration
	Memory   time.Duration
	// Device marks a known device's budget. A bounded backend keeps
	// those apart, where guesses from unknown devices cannot crowd them
	// out: only a successful sign-in makes a device known.
	Device bool
}

// Slot caps how many admitted requests hold Key at once.
type Slot struct {
	Key string
	Max int64
}

// Decision is Admit's answer.
type Decision struct {
	Admitted bool
	// RetryAfter is, when refused, how long until the refusing budgets
	// could admit again (at least a second for a slot or a full counter).
	RetryAfter time.Duration
}

// Settlement ends an admitted request.
type Settlement struct {
	Clear   []string // back-off keys to forget: the attempt succeeded
	Release []string // slot keys Holder took
	Holder  string
}

// BackoffDelay is the block a backoff's count-th failure starts: zero
// within free, then 1 s doubling up to max. Every backend computes the
// same (the Redis script and the PostgreSQL function mirror it).
func BackoffDelay(count, free int64, max time.Duration) time.Duration {
	if count <= free {
		return 0
	}
	if shift := count - free - 1; shift < 32 {
		return min(time.Duration(1<<shift)*time.Second, max)
	}
	return max
}

// slotRetry is the Retry-After of a refusal by a full slot or a full
// counter: a hash takes tens of milliseconds, so a second is plenty.
const slotRetry = time.Second
