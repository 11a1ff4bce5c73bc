package auth

import (
	"context"
	"sync"
	"time"
)

// SessionChange is one entry of the session change log: a session moved
// to Generation (at RotatedAt, its access token now expiring at
// AccessExpiresAt), or was revoked or deleted (Revoked).
type SessionChange struct {
	Seq             int64
	SessionID       string
	Generation      int64
	Revoked         bool
	RotatedAt       time.Time
	AccessExpiresAt time.Time
}

// ChangeLog is the durable, ordered log of session changes that the
// revocation stream serves. Both stores write it in the transaction of the
// change itself, so it holds exactly the committed changes, and number it
// in commit order.
type ChangeLog interface {
	// SessionChanges returns up to limit entries with Seq > after, in Seq
	// order. after = 0 means from the oldest entry kept. For any other
	// after, ErrPositionExpired if entries after it were pruned already or
	// after lies beyond the newest entry (a position from another
	// database).
	SessionChanges(ctx context.Context, after int64, limit int) ([]SessionChange, error)
}

// Revocation is an event of the revocation stream, for services that
// verify access tokens themselves (package verifier). Type "revoked": no
// token of the session is valid any more. Type "rotated": the session was
// refreshed; its valid tokens are now the one with UID (or any with a
// later exp than Exp: a rotation the stream has not reported yet) and,
// until PrevUntilMS, the one with PrevUID; every other token of it is
// retired. Either way no token of the session expires after Exp, so a
// follower can forget the event once Exp has passed.
type Revocation struct {
	Seq         int64  `json:"-"`
	Type        string `json:"type"`
	SessionID   string `json:"sid"`
	Generation  int64  `json:"gen"`
	UID         string `json:"uid,omitempty"`
	Exp         int64  `json:"exp,omitempty"`
	PrevUID     string `json:"prev_uid,omitempty"`
	PrevUntilMS int64  `json:"prev_until_ms,omitempty"`
}

// Revocation event types.
const (
	RevocationRevoked = "revoked"
	RevocationRotated = "rotated"
)

// Revocations returns up to limit events after position after (see
// ChangeLog). The token ids are derived here, from the session and
// generation, as every node derives them: the log never holds a secret.
func (s *Service) Revocations(ctx context.Context, after int64, limit int) ([]Revocation, error) {
	changes, err := s.store.SessionChanges(ctx, after, limit)
	if err != nil {
		return nil, err
	}
	// The previous generation of a generation 1 may be an imported
	// session's.
	imported, err := s.importedSecretsOf(ctx, changes, 1)
	if err != nil {
		return nil, err
	}
	out := make([]Revocation, len(changes))
	for i, c := range changes {
		r := Revocation{Seq: c.Seq, Type: RevocationRevoked, SessionID: c.SessionID, Generation: c.Generation,
			Exp: c.AccessExpiresAt.Unix()}
		if !c.Revoked {
			r.Type = RevocationRotated
			sec := s.secretsWith(c.SessionID, imported)
			r.UID = sec.accessID(c.Generation)
			if c.Generation > 0 {
				r.PrevUID = sec.accessID(c.Generation - 1)
				r.PrevUntilMS = c.RotatedAt.Add(s.grace).UnixMilli()
			}
		}
		out[i] = r
	}
	return out, nil
}

// Changed returns a channel that is closed when this node next learns of
// a committed session change: its own (sign-out, refresh, …) or another
// node's through the change feed. A stream takes it before reading the
// log, so a change committed during the read still wakes it.
func (s *Service) Changed() <-chan struct{} { return s.changed.wait() }

// signal wakes every waiter at once by closing a channel.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

func (g *signal) wait() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ch == nil {
		g.ch = make(chan struct{})
	}
	return g.ch
}

func (g *signal) fire() {
	g.mu.Lock()
	if g.ch != nil {
		close(g.ch)
		g.ch = nil
	}
	g.mu.Unlock()
}
