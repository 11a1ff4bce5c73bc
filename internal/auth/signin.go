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
//
// The attempt is admitted by the budgets before anything is hashed, and
// settled after: two counter round trips at most. A failure never locks
// the account nor ends its sessions.
func (s *Service) SignIn(ctx context.Context, c Credentials) (*Grant, error) {
	email := NormalizeEmail(c.Email)
	device := s.devices.parse(c.Client.Device, email)
	t, err := s.admitVerify(ctx, "sign_in", email, c.Client, device)
	if err != nil {
		return nil, err
	}
	u, rehash, reason, verifying, err := s.checkPassword(ctx, email, c.Password)
	if serr := t.settle(ctx, err == nil && reason == ""); err == nil {
		err = serr
	}
	if err != nil {
		return nil, err
	}
	if reason != "" {
		// Every failure answers no sooner than the slowest kind of stored
		// hash verifies, whatever kind this account has, if any.
		defer s.hasher.HoldFailure(ctx, verifying)
		var userID int64
		if u != nil {
			userID = u.ID
		}
		s.onEvent(Event{Type: EventSignInFailed, UserID: userID, IP: c.Client.IP, Reason: reason})
		return nil, ErrInvalidCredentials
	}
	if err := s.signInConfirmed(ctx, u, c.Client); err != nil {
		return nil, err
	}

	now := s.clock()
	if rehash != "" {
		err := commit(ctx, func(ctx context.Context) error { return s.store.SetPasswordHash(ctx, u.ID, rehash, now) })
		if err != nil {
			return nil, unavailable(err)
		}
	}
	g, err := s.startSession(ctx, u, c.Client, now, MethodPassword, "")
	if err != nil {
		return nil, err
	}
	// A device keeps its token, and so its budget, across sign-ins; a
	// token of an earlier account under the same email is replaced.
	g.DeviceToken = c.Client.Device
	if device == nil || device.userID != u.ID {
		g.DeviceToken = s.devices.issue(u.ID, email)
	}
	return g, nil
}

// checkPassword verifies password for email. reason is why it failed
// ("unknown_email", "wrong_password", "locked"), empty on success; rehash
// is the upgraded hash to store, if any; verifying is when the
// verification began, for HoldFailure.
func (s *Service) checkPassword(ctx context.Context, email, password string) (u *User, rehash, reason string, verifying time.Time, err error) {
	u, err = s.store.UserByEmail(ctx, email)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, "", "", verifying, unavailable(err)
	}
	var ok bool
	err = s.withHashSlot(ctx, "account:"+email, func() error {
		verifying = time.Now()
		if u == nil {
			s.hasher.DummyVerify(password)
			return nil
		}
		var verr error
		ok, verr = s.hasher.Verify(password, u.PasswordHash)
		if verr != nil {
			// A corrupt stored hash must not lock the caller into a 503
			// loop, nor let them in; log it and treat it as a mismatch.
			s.log.Error("stored password hash unreadable", "user_id", u.ID, "err", verr)
			ok = false
		}
		// Upgrading old hashes (imported bcrypt, weaker argon2id) needs
		// the plain password, which only a successful sign-in has.
		if ok && !u.Locked() && s.hasher.NeedsRehash(u.PasswordHash) {
			if h, herr := s.hasher.Hash(password); herr == nil {
				rehash = h
			}
		}
		return nil
	})
	switch {
	case err != nil:
		return nil, "", "", verifying, err
	case u == nil:
		return nil, "", "unknown_email", verifying, nil
	case !ok:
		return u, "", "wrong_password", verifying, nil
	case u.Locked():
		return u, "", "locked", verifying, nil
	}
	return u, rehash, "", verifying, nil
}

// admitVerify admits one password verification (see limiter.admitVerify),
// recording a refusal in the audit trail.
func (s *Service) admitVerify(ctx context.Context, action, email string, c Client, device *deviceToken) (*ticket, error) {
	t, err := s.limits.admitVerify(ctx, action, email, c, device)
	if errors.Is(err, ErrRateLimited) {
		s.onEvent(Event{Type: EventRateLimited, IP: c.IP, Reason: action})
	}
	return t, err
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
