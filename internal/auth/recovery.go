package auth

import (
	"context"
	"errors"
	"strings"
	"time"
)

// Mail budgets. A victim's inbox gets at most mailPerAddress mails an hour
// however many addresses ask; one client address can ask for at most
// mailPerIP an hour across all victims (so it cannot fill the outbox
// either). A client address can try tokenPerIP tokens an hour, and any
// one token can be tried tokenAttempts times. Tokens carry 128 random bits
// plus a 256-bit MAC, so these are against floods, not guessing.
const (
	mailWindow     = time.Hour
	mailPerAddress = 5
	mailPerIP      = 20
	tokenPerIP     = 60
	tokenAttempts  = 10
)

// limitMail is the one place where the mail flows ask the limiter for
// budget: action "mail" counts a mail to subject (an address) asked from
// ip; "token" counts a try of subject (a token) from ip. Disabled limits
// allow everything.
func (s *Service) limitMail(ctx context.Context, action, subject, ip string) error {
	l := s.limits
	if l == nil {
		return nil
	}
	a := Admission{Rates: []Rate{
		{Key: "ip:token:" + ip, Limit: tokenPerIP, Window: mailWindow},
		{Key: "token:" + limitKey(tokenID(subject)), Limit: tokenAttempts, Window: mailWindow},
	}}
	if action == "mail" {
		a.Rates = []Rate{
			{Key: "ip:mail:" + ip, Limit: mailPerIP, Window: mailWindow},
			{Key: "mail:addr:" + limitKey(subject), Limit: mailPerAddress, Window: mailWindow},
		}
	}
	err := l.admit(ctx, a)
	if errors.Is(err, ErrRateLimited) {
		s.onEvent(Event{Type: EventRateLimited, IP: ip, Reason: action})
	}
	return err
}

// tokenID is the public half of a token: what a per-token budget counts,
// so that spellings of one token share it.
func tokenID(tok string) string {
	id, _, _ := strings.Cut(tok, ".")
	return id
}

// ForgotPassword queues a reset mail for email, if it names an account.
// It answers the same for every syntactically valid address after the
// same work: the budgets, keyed on the address whether or not it is
// known, and one insert into the outbox. Looking the account up, issuing
// the token and sending happen later in the outbox worker (NextMail), so
// neither the answer, its timing nor the database work of the request
// tells whether the account exists.
func (s *Service) ForgotPassword(ctx context.Context, email string, c Client) error {
	email = NormalizeEmail(email)
	var v validation
	v.email(email)
	if err := v.err(); err != nil {
		return err
	}
	if err := s.limitMail(ctx, "mail", email, c.limitAddr()); err != nil {
		return err
	}
	return s.enqueue(ctx, KindPasswordReset, email, 0)
}

// SendReset queues a reset mail for u, for an operator (`gatehouse users
// send-reset`); no budgets apply.
func (s *Service) SendReset(ctx context.Context, u *User) error {
	return s.enqueue(ctx, KindPasswordReset, u.Email, u.ID)
}

// SetPassword replaces u's password for an operator (`gatehouse users
// set-password`), checked as at registration, and revokes every session
// of u; outstanding reset links die with the old password. The owner is
// sent the password-changed notice.
func (s *Service) SetPassword(ctx context.Context, u *User, password string) error {
	var v validation
	v.password(password, u.Email, s.minPwLen)
	if err := v.err(); err != nil {
		return err
	}
	var hash string
	if err := s.withHashSlot(ctx, "admin", func() (err error) {
		hash, err = s.hasher.Hash(password)
		return err
	}); err != nil {
		return unavailable(err)
	}
	err := commit(ctx, func(ctx context.Context) error { return s.store.SetPasswordHash(ctx, u.ID, hash, s.clock()) })
	if err != nil {
		return notFoundOr(err)
	}
	if _, err := s.revokeUserSessions(ctx, u.ID, "", Client{}, "admin"); err != nil {
		return err
	}
	s.onEvent(Event{Type: EventPasswordChanged, UserID: u.ID, Reason: "admin"})
	if err := s.enqueue(ctx, KindPasswordChanged, u.Email, u.ID); err != nil {
		s.log.Warn("password-changed notice not queued", "user_id", u.ID, "err", err)
	}
	return nil
}

// PasswordReset is the input of ResetPassword.
type PasswordReset struct {
	Token                string
	Password             string
	PasswordConfirmation string
	Client               Client
}

// ResetPassword sets a new password with a token from a reset mail, ends
// every session of the user and signs in a new one. The token works once,
// until its expiry, and only while the password it was issued under is
// unchanged; every failure is ErrTokenInvalid. The account's failure
// back-off is cleared (its owner proved control of the address), but an
// account locked by an administrator or the failure limit stays locked.
func (s *Service) ResetPassword(ctx context.Context, r PasswordReset) (*Grant, error) {
	if err := s.limitMail(ctx, "token", r.Token, r.Client.limitAddr()); err != nil {
		return nil, err
	}
	t, u, err := s.checkMailToken(ctx, r.Token, KindPasswordReset, ErrTokenInvalid)
	if err != nil {
		return nil, err
	}
	if u.Email != t.Email {
		return nil, ErrTokenInvalid // mailed to an address the account has left
	}
	var v validation
	v.password(r.Password, u.Email, s.minPwLen)
	v.confirmation(r.Password, r.PasswordConfirmation)
	if err := v.err(); err != nil {
		return nil, err
	}
	var hash string
	if err := s.withHashSlot(ctx, "account:"+u.Email, func() (err error) {
		hash, err = s.hasher.Hash(r.Password)
		return err
	}); err != nil {
		return nil, unavailable(err)
	}
	now := s.clock()
	err = commit(ctx, func(ctx context.Context) error { return s.store.UseResetToken(ctx, t.ID, hash, now) })
	if errors.Is(err, ErrNotFound) {
		return nil, ErrTokenInvalid // a concurrent reset used it first
	} else if err != nil {
		return nil, unavailable(err)
	}
	if _, err := s.revokeUserSessions(ctx, u.ID, "", r.Client, "password_reset"); err != nil {
		return nil, err
	}
	s.onEvent(Event{Type: EventPasswordChanged, UserID: u.ID, IP: r.Client.IP, Reason: "reset"})
	if err := s.limits.unlocked(ctx, u.Email); err != nil {
		return nil, err
	}
	// The notice is best effort: the password is already changed, and a
	// full outbox must not turn a completed reset into an error.
	if err := s.enqueue(ctx, KindPasswordChanged, u.Email, u.ID); err != nil {
		s.log.Warn("password-changed notice not queued", "user_id", u.ID, "err", err)
	}
	return s.startSession(ctx, u, r.Client, now, MethodPassword, "reset")
}
