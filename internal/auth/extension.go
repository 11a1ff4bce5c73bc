package auth

import (
	"context"
	"errors"
	"time"
)

// What a package beside auth that keeps records of its own (package
// passkey) needs from the Service besides the second-factor hooks
// (stepup.go): the clock every node agrees on, an address's budget, the
// write discipline and the audit trail. Each wraps the machinery the
// flows in this package use, so work outside auth is budgeted, committed
// and audited exactly like work inside.

// Now reads the Service's clock: the database's time as this node knows
// it, at the precision the stores keep (clock.go).
func (s *Service) Now() time.Time { return s.clock() }

// Audit reports e to the audit trail. Report an event only after the
// change it describes has committed.
func (s *Service) Audit(e Event) { s.onEvent(e) }

// Commit runs a write detached from the request's cancellation, bounded
// by the commit timeout (commit.go); a request already past its deadline
// writes nothing (ErrUnavailable). The write's own error comes back as it
// is, for the caller to map.
func Commit(ctx context.Context, write func(context.Context) error) error {
	return commit(ctx, write)
}

// AllowRequest takes one request of action ("sign_in", "register",
// "refresh") from c's address budget, for work an unauthenticated client
// can ask for that is not itself a secret check (starting a ceremony).
func (s *Service) AllowRequest(ctx context.Context, action string, c Client) error {
	err := s.limits.allowIP(ctx, action, c.limitAddr())
	if errors.Is(err, ErrRateLimited) {
		s.onEvent(Event{Type: EventRateLimited, IP: c.IP, Reason: action})
	}
	return err
}
