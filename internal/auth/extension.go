package auth

import (
	"context"
	"errors"
	"time"
)

// What a package beside auth that checks credentials of its own (package
// passkey) needs from the Service, and nothing more: the clock every node
// agrees on, the budgets every secret check goes through, the write
// discipline and the audit trail. Each wraps the machinery the flows in
// this package use, so a check outside auth is admitted, settled,
// committed and audited exactly like one inside.

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

// Attempt is one admitted check of a secret, to be settled once.
type Attempt struct{ t *ticket }

// AdmitAttempt admits one check of a credential of account (a normalized
// email: the same account budgets as its password) made by c, before any
// verification, exactly as a sign-in is admitted (limits.go): the
// address's per-minute budget of action ("sign_in" or "password"), the
// back-off of the account and pair (or of c's known device) and the
// in-flight slots. A refusal is ErrRateLimited, audited.
func (s *Service) AdmitAttempt(ctx context.Context, action, account string, c Client) (*Attempt, error) {
	t, err := s.admitVerify(ctx, action, account, c, s.devices.parse(c.Device, account))
	if err != nil {
		return nil, err
	}
	return &Attempt{t: t}, nil
}

// Settle ends the attempt: its slots are freed and, if ok, the failure it
// was counted as at admission is forgotten. Settle it whatever happened,
// even when the request was cancelled.
func (a *Attempt) Settle(ctx context.Context, ok bool) error { return a.t.settle(ctx, ok) }

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
