package auth

import (
	"context"
	"errors"
)

// Registration is the input of Register.
type Registration struct {
	Email                string
	Password             string
	PasswordConfirmation string
	Client               Client
}

// Register creates a user, queues the confirmation mail and signs them in
// (with confirmation required: returns a nil Grant, no session). Validation failures are one
// *Error with code validation_failed and Rails-style details; nothing is
// created on any failure.
func (s *Service) Register(ctx context.Context, r Registration) (*Grant, error) {
	if err := s.limits.allowIP(ctx, "register", r.Client.limitAddr()); err != nil {
		s.onEvent(Event{Type: EventRateLimited, IP: r.Client.IP, Reason: "register"})
		return nil, err
	}
	email := NormalizeEmail(r.Email)
	var v validation
	v.email(email)
	v.password(r.Password, email, s.minPwLen)
	v.confirmation(r.Password, r.PasswordConfirmation)
	if err := v.err(); err != nil {
		return nil, err
	}
	// Registration reveals whether an email is taken anyway (422), so a
	// cheap look-up first spares the hash for a known duplicate. The unique
	// index still decides races.
	if _, err := s.store.UserByEmail(ctx, email); err == nil {
		return nil, ErrEmailTaken
	} else if !errors.Is(err, ErrNotFound) {
		return nil, unavailable(err)
	}

	var hash string
	// Keyed on the address: one client cannot hold every hash slot.
	err := s.withHashSlot(ctx, "address:"+r.Client.limitAddr(), func() (err error) {
		hash, err = s.hasher.Hash(r.Password)
		return err
	})
	if err != nil {
		return nil, unavailable(err)
	}

	now := s.clock()
	u := &User{Email: email, PasswordHash: hash, CreatedAt: now, UpdatedAt: now, EmailUnconfirmed: true}
	// With confirmation required there is no session until the address
	// is confirmed: Register then returns a nil Grant.
	var sess *Session
	if !s.requireConfirm {
		sess = s.newSession(0, r.Client, now, MethodPassword)
	}
	epoch := s.cache.currentEpoch()
	err = commit(ctx, func(ctx context.Context) error { return s.store.CreateUser(ctx, u, sess) })
	if err != nil {
		if errors.Is(err, ErrEmailTaken) {
			return nil, ErrEmailTaken
		}
		return nil, unavailable(err)
	}
	s.registered(ctx, u)
	if sess == nil {
		s.onEvent(Event{Type: EventRegistered, UserID: u.ID, IP: r.Client.IP})
		return nil, nil
	}
	s.onEvent(Event{Type: EventRegistered, UserID: u.ID, SessionID: sess.ID, IP: r.Client.IP})
	return s.grant(sess, u, s.derivedSecrets(sess.ID), epoch)
}
