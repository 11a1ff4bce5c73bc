package auth

import (
	"context"
	"errors"
)

// Credentials is the input of SignIn.
type Credentials struct {
	Email    string
	Password string
	Client   Client
}

// SignIn checks credentials and starts a session. Every failure is the
// same ErrInvalidCredentials after the same work: an unknown email runs a
// dummy verification, a locked account still verifies, so neither the
// answer nor its timing tells whether an account exists.
func (s *Service) SignIn(ctx context.Context, c Credentials) (*Grant, error) {
	email := NormalizeEmail(c.Email)
	u, err := s.store.UserByEmail(ctx, email)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, unavailable(err)
	}

	var ok bool
	var rehash string
	err = s.withHashSlot(ctx, func() error {
		if u == nil {
			s.hasher.DummyVerify(c.Password)
			return nil
		}
		var verr error
		ok, verr = s.hasher.Verify(c.Password, u.PasswordHash)
		if verr != nil {
			// A corrupt stored hash must not lock the caller into a 503
			// loop, nor let them in; log it and treat it as a mismatch.
			s.log.Error("stored password hash unreadable", "user_id", u.ID, "err", verr)
			ok = false
		}
		// Upgrading old hashes (imported bcrypt, weaker argon2id) needs
		// the plain password, which only a successful sign-in has.
		if ok && !u.Locked() && s.hasher.NeedsRehash(u.PasswordHash) {
			h, herr := s.hasher.Hash(c.Password)
			if herr == nil {
				rehash = h
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch {
	case u == nil:
		s.onEvent(Event{Type: EventSignInFailed, IP: c.Client.IP, Reason: "unknown_email"})
		return nil, ErrInvalidCredentials
	case !ok:
		s.onEvent(Event{Type: EventSignInFailed, UserID: u.ID, IP: c.Client.IP, Reason: "wrong_password"})
		return nil, ErrInvalidCredentials
	case u.Locked():
		s.onEvent(Event{Type: EventSignInFailed, UserID: u.ID, IP: c.Client.IP, Reason: "locked"})
		return nil, ErrInvalidCredentials
	}

	now := s.clock()
	if rehash != "" {
		if err := s.store.SetPasswordHash(ctx, u.ID, rehash, now); err != nil {
			return nil, unavailable(err)
		}
	}
	sess := s.newSession(u.ID, c.Client, now)
	evicted, err := s.store.CreateSession(ctx, sess, s.maxPerUser)
	if err != nil {
		return nil, unavailable(err)
	}
	s.revoked(evicted...)
	for _, id := range evicted {
		s.onEvent(Event{Type: EventSessionRevoked, UserID: u.ID, SessionID: id, IP: c.Client.IP, Reason: "session_cap"})
	}
	s.onEvent(Event{Type: EventSignedIn, UserID: u.ID, SessionID: sess.ID, IP: c.Client.IP})
	return s.grant(sess, u)
}
