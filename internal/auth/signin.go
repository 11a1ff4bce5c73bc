package auth

import (
	"context"
	"errors"
	"time"
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
	if err := s.limitSignIn(ctx, email, c.Client.limitAddr()); err != nil {
		return nil, err
	}
	u, err := s.store.UserByEmail(ctx, email)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, unavailable(err)
	}

	var ok bool
	var rehash string
	var verifying time.Time // when the verification began, for HoldFailure
	err = s.withHashSlot(ctx, func() error {
		verifying = time.Now()
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
	if u == nil || !ok || u.Locked() {
		// Every failure answers no sooner than the slowest kind of stored
		// hash verifies, whatever kind this account has, if any.
		defer s.hasher.HoldFailure(ctx, verifying)
	}
	switch {
	case u == nil:
		return nil, s.signInFailed(ctx, email, nil, c.Client, "unknown_email")
	case !ok:
		return nil, s.signInFailed(ctx, email, u, c.Client, "wrong_password")
	case u.Locked():
		return nil, s.signInFailed(ctx, email, u, c.Client, "locked")
	}
	if err := s.signInConfirmed(ctx, u, c.Client); err != nil {
		return nil, err
	}
	if err := s.limits.signInSucceeded(ctx, email, c.Client.limitAddr()); err != nil {
		return nil, err
	}

	now := s.clock()
	if rehash != "" {
		err := commit(ctx, func(ctx context.Context) error { return s.store.SetPasswordHash(ctx, u.ID, rehash, now) })
		if err != nil {
			return nil, unavailable(err)
		}
	}
	sess := s.newSession(u.ID, c.Client, now)
	epoch := s.cache.currentEpoch()
	var evicted []string
	err = commit(ctx, func(ctx context.Context) (err error) {
		evicted, err = s.store.CreateSession(ctx, sess, s.maxPerUser)
		return err
	})
	if err != nil {
		return nil, unavailable(err)
	}
	s.revoked(evicted...)
	for _, id := range evicted {
		s.onEvent(Event{Type: EventSessionRevoked, UserID: u.ID, SessionID: id, IP: c.Client.IP, Reason: "session_cap"})
	}
	s.onEvent(Event{Type: EventSignedIn, UserID: u.ID, SessionID: sess.ID, IP: c.Client.IP})
	return s.grant(sess, u, epoch)
}

// limitSignIn applies the per-IP budget and the per-account back-off
// before any hashing.
func (s *Service) limitSignIn(ctx context.Context, email, ip string) error {
	err := s.limits.allowIP(ctx, "sign_in", ip)
	if err == nil {
		err = s.limits.checkSignIn(ctx, email, ip)
	}
	if errors.Is(err, ErrRateLimited) {
		s.onEvent(Event{Type: EventRateLimited, IP: ip, Reason: "sign_in"})
	}
	return err
}

// signInFailed reports a failed sign-in, counts it towards back-off and,
// at the limit, locks the account. It returns the error for the client,
// which is the same whatever the reason.
func (s *Service) signInFailed(ctx context.Context, email string, u *User, c Client, reason string) error {
	var userID int64
	if u != nil {
		userID = u.ID
	}
	s.onEvent(Event{Type: EventSignInFailed, UserID: userID, IP: c.IP, Reason: reason})
	lock, err := s.limits.signInFailed(ctx, email, c.limitAddr())
	if err != nil {
		return err
	}
	if lock && u != nil && !u.Locked() {
		if err := s.lockUser(ctx, u.ID, c, "too_many_failures"); err != nil {
			return err
		}
	}
	return ErrInvalidCredentials
}

// lockUser disables password sign-in for a user and ends their sessions.
func (s *Service) lockUser(ctx context.Context, id int64, c Client, reason string) error {
	if err := s.store.SetLocked(ctx, id, s.clock()); err != nil {
		return unavailable(err)
	}
	if _, err := s.revokeUserSessions(ctx, id, "", c, reason); err != nil {
		return err
	}
	s.onEvent(Event{Type: EventAccountLocked, UserID: id, IP: c.IP, Reason: reason})
	return nil
}
