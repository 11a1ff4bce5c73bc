package auth

import (
	"context"
	"errors"
	"time"
)

// Me returns the principal's user. Email and creation time never change,
// so they come from the session cache that Authenticate just filled.
func (s *Service) Me(ctx context.Context, p *Principal) (*User, error) {
	if u, ok := s.cachedUser(p.SessionID, p.UserID); ok {
		return u, nil
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	u, err := s.store.UserByID(ctx, p.UserID)
	if err != nil {
		return nil, notAuthorized(err)
	}
	return u, nil
}

// Sessions lists the principal's live sessions, newest first.
func (s *Service) Sessions(ctx context.Context, p *Principal) ([]SessionInfo, error) {
	list, err := s.store.ListSessions(ctx, p.UserID, s.clock())
	if err != nil {
		return nil, unavailable(err)
	}
	out := make([]SessionInfo, len(list))
	for i, sess := range list {
		at, _ := sess.lastProof()
		out[i] = SessionInfo{
			ID:         sess.ID,
			CreatedAt:  sess.CreatedAt,
			LastUsedAt: sess.LastUsedAt,
			ExpiresAt:  sess.ExpiresAt,
			IP:         sess.IP,
			UserAgent:  sess.UserAgent,
			Current:    sess.ID == p.SessionID,
			Pending:    sess.Pending,
			Methods:    sess.signInMethods(),

			AuthenticatedAt: at,
		}
	}
	return out, nil
}

// RevokeSession ends one of the principal's own sessions. Another user's
// session id is ErrNotFound, exactly like an id that does not exist.
func (s *Service) RevokeSession(ctx context.Context, p *Principal, id string, c Client) error {
	sess, err := s.store.Session(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound) || err == nil && sess.UserID != p.UserID:
		return ErrNotFound
	case err != nil:
		return unavailable(err)
	}
	err = commit(ctx, func(ctx context.Context) error { return s.store.RevokeSession(ctx, id, s.clock()) })
	if err != nil {
		return unavailable(err)
	}
	s.revoked(id)
	s.onEvent(Event{Type: EventSessionRevoked, UserID: p.UserID, SessionID: id, IP: c.IP, Reason: "user"})
	return nil
}

// RevokeOtherSessions ends all the principal's sessions but the current
// one, or all of them when includeCurrent is set.
func (s *Service) RevokeOtherSessions(ctx context.Context, p *Principal, includeCurrent bool, c Client) error {
	except := p.SessionID
	if includeCurrent {
		except = ""
	}
	_, err := s.revokeUserSessions(ctx, p.UserID, except, c, "user")
	return err
}

func (s *Service) revokeUserSessions(ctx context.Context, userID int64, except string, c Client, reason string) ([]string, error) {
	var ids []string
	err := commit(ctx, func(ctx context.Context) (err error) {
		ids, err = s.store.RevokeUserSessions(ctx, userID, except, s.clock())
		return err
	})
	if err != nil {
		return nil, unavailable(err)
	}
	s.revoked(ids...)
	for _, id := range ids {
		s.onEvent(Event{Type: EventSessionRevoked, UserID: userID, SessionID: id, IP: c.IP, Reason: reason})
	}
	return ids, nil
}

// PasswordChange is the input of ChangePassword.
type PasswordChange struct {
	CurrentPassword      string
	Password             string
	PasswordConfirmation string
	Client               Client
}

// ChangePassword replaces the principal's password after checking the
// current one, revokes every other session of the user (whoever knew the
// old password is out) and rotates the current session, whose new
// credentials it returns.
func (s *Service) ChangePassword(ctx context.Context, p *Principal, r PasswordChange) (*Grant, error) {
	u, err := s.store.UserByID(ctx, p.UserID)
	if err != nil {
		return nil, notAuthorized(err)
	}
	var v validation
	v.password(r.Password, u.Email, s.minPwLen)
	v.confirmation(r.Password, r.PasswordConfirmation)
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := s.requireFactorStepUp(ctx, p); err != nil {
		return nil, err
	}
	var hash string
	ok, err := s.verifyPassword(ctx, u, r.CurrentPassword, r.Client, func() (err error) {
		hash, err = s.hasher.Hash(r.Password)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !ok {
		v.add("current_password", "Current password", "is invalid")
		return nil, v.err()
	}
	now := s.clock()
	err = commit(ctx, func(ctx context.Context) error { return s.store.SetPasswordHash(ctx, u.ID, hash, now) })
	if err != nil {
		return nil, unavailable(err)
	}
	if _, err := s.revokeUserSessions(ctx, u.ID, p.SessionID, r.Client, "password_changed"); err != nil {
		return nil, err
	}
	s.onEvent(Event{Type: EventPasswordChanged, UserID: u.ID, SessionID: p.SessionID, IP: r.Client.IP})
	return s.rotate(ctx, p.SessionID, u, now)
}

// verifyPassword checks the password of signed-in user u, admitted by the
// same budgets as a sign-in (a stolen session must not become an
// unlimited oracle for the password), and only if it matched runs then in
// the same hash slot.
func (s *Service) verifyPassword(ctx context.Context, u *User, password string, c Client, then func() error) (bool, error) {
	t, err := s.admitVerify(ctx, "password", u.Email, c, s.devices.parse(c.Device, u.Email))
	if err != nil {
		return false, err
	}
	var ok bool
	err = s.withHashSlot(ctx, "account:"+u.Email, func() error {
		if ok, _ = s.hasher.Verify(password, u.PasswordHash); !ok || then == nil {
			return nil
		}
		return then()
	})
	if serr := t.settle(ctx, err == nil && ok); err == nil {
		err = serr
	}
	if err != nil {
		return false, unavailable(err)
	}
	return ok, nil
}

// rotate moves a session to its next generation unconditionally (retrying
// a lost race), for changes that must re-key the current session.
func (s *Service) rotate(ctx context.Context, id string, u *User, now time.Time) (*Grant, error) {
	for range 3 {
		epoch := s.cache.currentEpoch()
		sess, err := s.store.Session(ctx, id)
		if err != nil {
			return nil, notAuthorized(err)
		}
		if !sess.Live(now) {
			return nil, ErrNotAuthorized
		}
		sec := s.secretsOf(sess, now)
		var next *Session
		err = commit(ctx, func(ctx context.Context) (err error) {
			next, err = s.store.RotateSession(ctx, id, sess.Generation, now, s.accessExpiry(now, sess.ExpiresAt))
			return err
		})
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return nil, unavailable(err)
		}
		return s.grant(next, u, sec, epoch)
	}
	return nil, unavailable(errors.New("auth: rotation kept losing the race"))
}
