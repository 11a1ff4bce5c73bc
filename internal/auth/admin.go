package auth

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// FindUser returns the user that ref names: a numeric id or an email
// address (an email can never be all digits). ErrNotFound if none.
func (s *Service) FindUser(ctx context.Context, ref string) (*User, error) {
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		return s.UserByID(ctx, id)
	}
	u, err := s.store.UserByEmail(ctx, NormalizeEmail(ref))
	if err != nil {
		return nil, notFoundOr(err)
	}
	return u, nil
}

// UserByID returns the user whose id is id, or ErrNotFound.
func (s *Service) UserByID(ctx context.Context, id int64) (*User, error) {
	u, err := s.store.UserByID(ctx, id)
	if err != nil {
		return nil, notFoundOr(err)
	}
	return u, nil
}

// CreateUser creates an account without signing it in, checking the email
// and password exactly as registration does (there is no confirmation to
// check). A taken email is ErrEmailTaken.
func (s *Service) CreateUser(ctx context.Context, email, password string) (*User, error) {
	email = NormalizeEmail(email)
	var v validation
	v.email(email)
	v.password(password, email, s.minPwLen)
	if err := v.err(); err != nil {
		return nil, err
	}
	var hash string
	err := s.withHashSlot(ctx, "admin", func() (err error) {
		hash, err = s.hasher.Hash(password)
		return err
	})
	if err != nil {
		return nil, unavailable(err)
	}
	now := s.clock()
	u := &User{Email: email, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	if err := s.store.CreateUser(ctx, u, nil); err != nil {
		if errors.Is(err, ErrEmailTaken) {
			return nil, ErrEmailTaken
		}
		return nil, unavailable(err)
	}
	s.onEvent(Event{Type: EventUserCreated, UserID: u.ID, Reason: "admin"})
	return u, nil
}

// Users returns up to limit users with ID > afterID, by ID: a page of the
// user list, the next one starting after the last ID of this one.
func (s *Service) Users(ctx context.Context, afterID int64, limit int) ([]User, error) {
	users, err := s.store.ListUsers(ctx, afterID, limit)
	if err != nil {
		return nil, unavailable(err)
	}
	return users, nil
}

// LockUser stops password sign-in for user id and revokes all their
// sessions: an administrator's decision, never taken automatically. Locking a locked user keeps
// the original lock time. ErrNotFound if there is no such user.
func (s *Service) LockUser(ctx context.Context, id int64) error {
	u, err := s.userByID(ctx, id)
	if err != nil || u.Locked() {
		return err
	}
	return s.lockUser(ctx, id, Client{}, "admin")
}

// UnlockUser lifts an administrator's lock and forgets the account's
// failed sign-ins, ending its account-wide back-off. ErrNotFound if there is no such user.
func (s *Service) UnlockUser(ctx context.Context, id int64) error {
	u, err := s.userByID(ctx, id)
	if err != nil {
		return err
	}
	// Counts first: should unlocking then fail, clearing them was harmless.
	if err := s.limits.unlocked(ctx, u.Email); err != nil {
		return err
	}
	if !u.Locked() {
		return nil
	}
	if err := s.store.SetLocked(ctx, id, time.Time{}); err != nil {
		return notFoundOr(err)
	}
	s.onEvent(Event{Type: EventAccountUnlocked, UserID: id, Reason: "admin"})
	return nil
}

// DeleteUser deletes user id and their sessions for good; tokens of those
// sessions stop working at once on this node. ErrNotFound if there is no
// such user.
func (s *Service) DeleteUser(ctx context.Context, id int64) error {
	ids, err := s.store.DeleteUser(ctx, id)
	if err != nil {
		return notFoundOr(err)
	}
	s.revoked(ids...)
	for _, sid := range ids {
		s.onEvent(Event{Type: EventSessionRevoked, UserID: id, SessionID: sid, Reason: "user_deleted"})
	}
	s.onEvent(Event{Type: EventUserDeleted, UserID: id, Reason: "admin"})
	return nil
}

// UserSessions returns the live sessions of user id, newest first.
// ErrNotFound if there is no such user.
func (s *Service) UserSessions(ctx context.Context, id int64) ([]Session, error) {
	if _, err := s.userByID(ctx, id); err != nil {
		return nil, err
	}
	list, err := s.store.ListSessions(ctx, id, s.clock())
	if err != nil {
		return nil, unavailable(err)
	}
	return list, nil
}

// RevokeSessionByID ends any user's session, for an administrator (the
// API's RevokeSession only ends the caller's own). Revoking a revoked
// session is a no-op. ErrNotFound if there is no such session.
func (s *Service) RevokeSessionByID(ctx context.Context, id string) error {
	sess, err := s.store.Session(ctx, id)
	if err != nil {
		return notFoundOr(err)
	}
	if sess.Revoked() {
		return nil
	}
	if err := s.store.RevokeSession(ctx, id, s.clock()); err != nil {
		return notFoundOr(err)
	}
	s.revoked(id)
	s.onEvent(Event{Type: EventSessionRevoked, UserID: sess.UserID, SessionID: id, Reason: "admin"})
	return nil
}

func (s *Service) userByID(ctx context.Context, id int64) (*User, error) {
	u, err := s.store.UserByID(ctx, id)
	if err != nil {
		return nil, notFoundOr(err)
	}
	return u, nil
}

// notFoundOr keeps a store's ErrNotFound and turns anything else into a
// 503-style ErrUnavailable with the cause attached.
func notFoundOr(err error) error {
	if errors.Is(err, ErrNotFound) {
		return ErrNotFound
	}
	return unavailable(err)
}
