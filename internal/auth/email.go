package auth

import (
	"context"
	"errors"
)

// ConfirmEmail uses a confirmation link's token: the account's address is
// confirmed or, for an address change, replaced by the new one. An
// address change signs out every session of the account: whoever held a
// session under the old address signs in again, and every node learns of
// the change through the revocations it already follows. Every failure
// of the token is ErrConfirmTokenInvalid; an address another account took
// since the request is ErrEmailTaken.
func (s *Service) ConfirmEmail(ctx context.Context, tok string, c Client) error {
	if err := s.limitMail(ctx, "token", tok, c.limitAddr()); err != nil {
		return err
	}
	t, u, err := s.checkMailToken(ctx, tok, KindConfirmEmail, ErrConfirmTokenInvalid)
	if err != nil {
		return err
	}
	err = commit(ctx, func(ctx context.Context) error { return s.store.UseEmailToken(ctx, t.ID, s.clock()) })
	switch {
	case errors.Is(err, ErrNotFound):
		return ErrConfirmTokenInvalid
	case errors.Is(err, ErrEmailTaken):
		return ErrEmailTaken
	case err != nil:
		return unavailable(err)
	}
	if t.Email == u.Email {
		s.onEvent(Event{Type: EventEmailConfirmed, UserID: u.ID, IP: c.IP})
		return nil
	}
	s.onEvent(Event{Type: EventEmailChanged, UserID: u.ID, IP: c.IP})
	_, err = s.revokeUserSessions(ctx, u.ID, "", c, "email_changed")
	return err
}

// ResendConfirmation queues another confirmation mail for the principal's
// address, if it is unconfirmed; a confirmed address gets nothing, with
// the same answer. The mail budgets apply.
func (s *Service) ResendConfirmation(ctx context.Context, p *Principal, c Client) error {
	u, err := s.store.UserByID(ctx, p.UserID)
	if err != nil {
		return notAuthorized(err)
	}
	if !u.EmailUnconfirmed {
		return nil
	}
	if err := s.limitMail(ctx, "mail", u.Email, c.limitAddr()); err != nil {
		return err
	}
	return s.enqueue(ctx, KindConfirmEmail, u.Email, u.ID)
}

// EmailChange is the input of ChangeEmail.
type EmailChange struct {
	Email           string
	CurrentPassword string
	Client          Client
}

// ChangeEmail starts an address change: a confirmation link goes to the
// new address and a notice to the old one. Nothing changes, and the new
// address is reserved against no one, until the link is used.
func (s *Service) ChangeEmail(ctx context.Context, p *Principal, r EmailChange) error {
	u, err := s.store.UserByID(ctx, p.UserID)
	if err != nil {
		return notAuthorized(err)
	}
	email := NormalizeEmail(r.Email)
	var v validation
	v.email(email)
	if email == u.Email {
		v.add("email", "Email", "is your current address")
	}
	if err := v.err(); err != nil {
		return err
	}
	if err := s.requireFactorStepUp(ctx, p); err != nil {
		return err
	}
	// current_password is a password check like any other: admitted by
	// the sign-in budgets, or a stolen session could guess it freely.
	ok, err := s.verifyPassword(ctx, u, r.CurrentPassword, r.Client, nil)
	if err != nil {
		return err
	}
	if !ok {
		v.add("current_password", "Current password", "is invalid")
		return v.err()
	}
	// Registration tells whether an address is taken; so may this, to a
	// signed-in user who knows their password.
	if _, err := s.store.UserByEmail(ctx, email); err == nil {
		return ErrEmailTaken
	} else if !errors.Is(err, ErrNotFound) {
		return unavailable(err)
	}
	if err := s.limitMail(ctx, "mail", email, r.Client.limitAddr()); err != nil {
		return err
	}
	if err := s.enqueue(ctx, KindEmailChange, email, u.ID); err != nil {
		return err
	}
	return s.enqueue(ctx, KindEmailChangeNotice, u.Email, u.ID)
}

// signInConfirmed is the last check of a sign-in with the right password:
// with --require-email-confirmation an unconfirmed address is refused, and
// a fresh confirmation mail is queued (within the mail budgets), since
// the user cannot reach the authenticated resend without a session.
func (s *Service) signInConfirmed(ctx context.Context, u *User, c Client) error {
	if !s.requireConfirm || !u.EmailUnconfirmed {
		return nil
	}
	if s.limitMail(ctx, "mail", u.Email, c.limitAddr()) == nil {
		if err := s.enqueue(ctx, KindConfirmEmail, u.Email, u.ID); err != nil {
			s.log.Warn("confirmation mail not queued", "user_id", u.ID, "err", err)
		}
	}
	return ErrEmailUnconfirmed
}

// registered queues the confirmation mail of a new account. Registration
// has committed by now; a full outbox is logged, not fatal: the user can
// ask again (resend, or sign in with confirmation required).
func (s *Service) registered(ctx context.Context, u *User) {
	if err := s.enqueue(ctx, KindConfirmEmail, u.Email, u.ID); err != nil {
		s.log.Warn("confirmation mail not queued", "user_id", u.ID, "err", err)
	}
}
