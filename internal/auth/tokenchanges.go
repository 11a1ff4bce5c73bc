package auth

import (
	"context"
	"errors"
	"time"
)

// A token store that keeps one record per access token — the jwt_sessions
// gem's Redis, which Rails services look every token up in — can be kept
// in step with Gatehouse from the session change log: each entry says
// which access token a session now accepts and which it no longer does.
// Unlike the revocation stream (Revocations), these carry the CSRF secret,
// which the gem's record holds: they are for a process Gatehouse trusts
// (package jwtsessions), never for the wire.

// AccessToken is an access token a session accepts.
type AccessToken struct {
	UID        string
	CSRFSecret []byte
	Exp        time.Time
}

// AccessTokenChange is one entry of the session change log, in tokens.
type AccessTokenChange struct {
	Seq       int64
	SessionID string
	// Current is the token the session accepts after the change; zero if
	// it was revoked.
	Current AccessToken
	// Previous is the token the change replaced, still accepted until
	// PreviousUntil (the refresh grace window); "" at generation 0.
	PreviousUID   string
	PreviousUntil time.Time
	// Revoked lists the tokens a revocation ended: the current one and
	// the previous (which may still be in its grace window).
	Revoked []string
	// RevokedUntil is when the last token of a revoked session would have
	// expired anyway: a record of the revocation need not outlive it.
	RevokedUntil time.Time
}

// AccessTokenChanges returns up to limit changes after position after,
// as ChangeLog.SessionChanges does (ErrPositionExpired included).
func (s *Service) AccessTokenChanges(ctx context.Context, after int64, limit int) ([]AccessTokenChange, error) {
	changes, err := s.store.SessionChanges(ctx, after, limit)
	if err != nil {
		return nil, err
	}
	// Generation 0 may be an imported session's.
	imported, err := s.importedSecretsOf(ctx, changes, 1)
	if err != nil {
		return nil, err
	}
	out := make([]AccessTokenChange, len(changes))
	for i, c := range changes {
		sec := s.secretsWith(c.SessionID, imported)
		ch := AccessTokenChange{Seq: c.Seq, SessionID: c.SessionID}
		uid := sec.accessID(c.Generation)
		switch {
		case c.Revoked:
			ch.Revoked = []string{uid}
			if c.Generation > 0 {
				ch.Revoked = append(ch.Revoked, sec.accessID(c.Generation-1))
			}
			ch.RevokedUntil = c.AccessExpiresAt
		default:
			ch.Current = AccessToken{UID: uid, CSRFSecret: sec.csrf(c.Generation), Exp: c.AccessExpiresAt}
			if c.Generation > 0 {
				ch.PreviousUID = sec.accessID(c.Generation - 1)
				ch.PreviousUntil = c.RotatedAt.Add(s.grace)
			}
		}
		out[i] = ch
	}
	return out, nil
}

// NewSessionToken returns the access token of session id if the session
// is live and still at its first generation, which no change-log entry
// announces (creations are not logged); ok is false otherwise.
func (s *Service) NewSessionToken(ctx context.Context, id string) (tok AccessToken, ok bool, err error) {
	sess, err := s.store.Session(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return AccessToken{}, false, nil
	}
	if err != nil || sess.Generation != 0 || !sess.Live(s.clock()) {
		return AccessToken{}, false, err
	}
	sec := s.secretsOf(sess, s.clock())
	return AccessToken{UID: sec.accessID(0), CSRFSecret: sec.csrf(0), Exp: sess.AccessExpiresAt}, true, nil
}
