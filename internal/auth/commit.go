package auth

import (
	"context"
	"time"
)

// commitTimeout bounds a write once it is issued. It is deliberately not
// the request's deadline: cancelling a write whose statement may already
// be at the database does not undo it, it only makes the answer lie (a 503
// for a user that exists, a sign-out that happened, with no audit line).
// It is shorter than the default refresh grace (10 s), so a client told
// outcome_unknown about a refresh can still retry it within grace.
const commitTimeout = 5 * time.Second

// commit runs a write on a context detached from the request's
// cancellation and deadline, bounded by commitTimeout. A request whose
// deadline already passed issues no write at all.
func commit(ctx context.Context, write func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return unavailable(err)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	return write(ctx)
}
