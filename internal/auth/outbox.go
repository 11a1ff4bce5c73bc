package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Outbox timing. The lease outlasts a send (the mailer's timeout is a
// minute), so a live worker never loses its mail to another; a worker
// that dies leaves its mail to be taken again when the lease ends.
const (
	mailLease        = 2 * time.Minute
	mailFirstBackoff = time.Second
	mailMaxBackoff   = 5 * time.Minute
	// MaxMailAttempts is when the outbox gives up on a mail (about two
	// hours of retries) and marks it failed, for `gatehouse mail retry`.
	MaxMailAttempts = 30
	// confirmTTL is the life of a confirmation link: long enough for a
	// mail read the next day; it only proves an address.
	confirmTTL = 48 * time.Hour
)

// Outgoing is a mail the worker may send now. Token is the link's token
// for kinds that carry one, derived on the spot: it exists only in memory
// and in the mail itself.
type Outgoing struct {
	Mail
	Token string
}

// enqueue puts a mail into the outbox, due at once.
func (s *Service) enqueue(ctx context.Context, kind MailKind, to string, userID int64) error {
	now := s.clock()
	m := &Mail{Kind: kind, To: to, UserID: userID, CreatedAt: now, NextAttemptAt: now}
	err := commit(ctx, func(ctx context.Context) error { return s.store.EnqueueMail(ctx, m, s.maxPendingMails) })
	if err != nil {
		if errors.Is(err, ErrOutboxFull) {
			return err
		}
		return unavailable(err)
	}
	return nil
}

// NextMail claims the next due mail and readies it: a reset request gets
// its account looked up and its token issued here, off the request path,
// so that answering a request costs the same for every address. Mails
// with nothing left to send (no such account, link expired or superseded)
// are recorded as dropped and skipped. ErrNotFound when nothing is due.
func (s *Service) NextMail(ctx context.Context) (*Outgoing, error) {
	for {
		now := s.clock()
		m, err := s.store.ClaimMail(ctx, now, now.Add(mailLease))
		if err != nil {
			return nil, notFoundOr(err)
		}
		out, reason, err := s.ready(ctx, m, now)
		if err != nil {
			return nil, err
		}
		if out != nil {
			return out, nil
		}
		m.State, m.LastError = MailDropped, reason
		if err := s.store.FinishMail(ctx, m); err != nil {
			return nil, unavailable(err)
		}
	}
}

// ready returns the mail with its token, or nil and why there is nothing
// to send.
func (s *Service) ready(ctx context.Context, m *Mail, now time.Time) (*Outgoing, string, error) {
	purpose, ttl := tokenPurpose(m.Kind), s.tokenTTL(m.Kind)
	if purpose == "" {
		return &Outgoing{Mail: *m}, "", nil
	}
	if !now.Before(m.CreatedAt.Add(ttl)) {
		return nil, "link expired before it could be sent", nil
	}
	var t *MailToken
	if m.TokenID == "" {
		u, reason, err := s.recipient(ctx, m)
		if u == nil {
			return nil, reason, err
		}
		t = &MailToken{ID: newTokenID(), UserID: u.ID, Purpose: purpose, Email: m.To,
			Stamp: passwordStamp(u.PasswordHash), CreatedAt: now, ExpiresAt: m.CreatedAt.Add(ttl)}
		if err := s.store.AttachMailToken(ctx, m.ID, t); errors.Is(err, ErrNotFound) {
			return nil, "account deleted", nil
		} else if err != nil {
			return nil, "", unavailable(err)
		}
		m.TokenID, m.UserID = t.ID, t.UserID
	} else {
		// A retry: resend the token issued on the first attempt, unless it
		// was used or a newer request replaced it meanwhile.
		var err error
		if t, err = s.store.MailToken(ctx, m.TokenID); errors.Is(err, ErrNotFound) {
			return nil, "link used or superseded before it could be sent", nil
		} else if err != nil {
			return nil, "", unavailable(err)
		}
	}
	return &Outgoing{Mail: *m, Token: s.mailToken(t)}, "", nil
}

// recipient resolves the account a link is for, or says why there is
// none. A reset request names only an address; the others name the user.
func (s *Service) recipient(ctx context.Context, m *Mail) (*User, string, error) {
	var u *User
	var err error
	if m.Kind == KindPasswordReset {
		u, err = s.store.UserByEmail(ctx, m.To)
	} else {
		u, err = s.store.UserByID(ctx, m.UserID)
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, "no account with this address", nil
	case err != nil:
		return nil, "", unavailable(err)
	case m.Kind == KindConfirmEmail && (u.Email != m.To || !u.EmailUnconfirmed):
		return nil, "address confirmed or changed meanwhile", nil
	case m.Kind == KindEmailChange && u.Email == m.To:
		return nil, "address already changed", nil
	}
	return u, "", nil
}

// tokenPurpose is the purpose of the token a mail of kind carries, ""
// for none. An address change and a confirmation share one purpose: a
// user has at most one address waiting to be confirmed.
func tokenPurpose(kind MailKind) MailKind {
	switch kind {
	case KindPasswordReset:
		return KindPasswordReset
	case KindConfirmEmail, KindEmailChange:
		return KindConfirmEmail
	}
	return ""
}

// tokenTTL is how long the link of a mail of kind works, from the request.
func (s *Service) tokenTTL(kind MailKind) time.Duration {
	if kind == KindPasswordReset {
		return s.resetTTL
	}
	return confirmTTL
}

// MailDone records the outcome of sending m: sent, or a retry after a
// back-off that starts at a second and doubles up to five minutes, or,
// after MaxMailAttempts, failed.
func (s *Service) MailDone(ctx context.Context, m *Mail, sendErr error) error {
	now := s.clock()
	switch {
	case sendErr == nil:
		m.State, m.SentAt, m.LastError = MailSent, now, ""
	case m.Attempts >= MaxMailAttempts:
		m.State, m.LastError = MailFailed, sendErr.Error()
	default:
		m.State, m.LastError = MailPending, sendErr.Error()
		m.NextAttemptAt = now.Add(mailBackoff(m.Attempts))
	}
	if err := s.store.FinishMail(ctx, m); err != nil {
		return unavailable(err)
	}
	return nil
}

// mailBackoff is the wait after the attempt-th failed attempt.
func mailBackoff(attempt int) time.Duration {
	if attempt < 1 || attempt > 20 {
		return mailMaxBackoff
	}
	return min(mailFirstBackoff<<(attempt-1), mailMaxBackoff)
}

// Mails returns a page of the outbox, newest first (`gatehouse mail list`).
func (s *Service) Mails(ctx context.Context, beforeID int64, limit int) ([]Mail, error) {
	list, err := s.store.ListMails(ctx, beforeID, limit)
	if err != nil {
		return nil, unavailable(err)
	}
	return list, nil
}

// RetryMail makes mail id due again now (`gatehouse mail retry`).
func (s *Service) RetryMail(ctx context.Context, id int64) error {
	if err := s.store.RetryMail(ctx, id, s.clock()); err != nil {
		return notFoundOr(err)
	}
	return nil
}

// PendingMails is the outbox backlog (a metric).
func (s *Service) PendingMails(ctx context.Context) (int64, error) {
	return s.store.CountPendingMails(ctx)
}

// newTokenID is the public half of a link's token: 128 random bits.
func newTokenID() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// passwordStamp fingerprints a password hash, so a token can die with the
// password it was issued under without the token row holding the hash.
func passwordStamp(hash string) string {
	sum := sha256.Sum256([]byte("gatehouse/password-stamp/v1\x00" + hash))
	return hex.EncodeToString(sum[:16])
}

// mailToken is the token of t: its id and a MAC over everything the row
// says, under a key derived from the signing key. A database reader (or a
// backup) has the row but not the key, so it cannot build a working link;
// a row edited to extend its life or move it to another user no longer
// matches its MAC.
func (s *Service) mailToken(t *MailToken) string {
	sum := mac(s.mailKey, string(t.Purpose), t.ID, strconv.FormatInt(t.UserID, 10), t.Email, t.Stamp,
		strconv.FormatInt(t.ExpiresAt.UnixMicro(), 10))
	return t.ID + "." + base64.RawURLEncoding.EncodeToString(sum)
}

// checkMailToken returns the live token row that tok is the token of,
// and its user. Every failure is invalid, the purpose's sentinel.
func (s *Service) checkMailToken(ctx context.Context, tok string, purpose MailKind, invalid error) (*MailToken, *User, error) {
	id, _, ok := strings.Cut(tok, ".")
	if !ok || len(tok) > 128 || len(id) != 22 {
		return nil, nil, invalid
	}
	t, err := s.store.MailToken(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, invalid
	}
	if err != nil {
		return nil, nil, unavailable(err)
	}
	// Compare whole strings, as for refresh tokens: exactly one spelling
	// of a token is valid.
	if subtle.ConstantTimeCompare([]byte(tok), []byte(s.mailToken(t))) != 1 ||
		t.Purpose != purpose || !s.clock().Before(t.ExpiresAt) {
		return nil, nil, invalid
	}
	// The token dies with the password it was issued under, and with the
	// account.
	u, err := s.store.UserByID(ctx, t.UserID)
	if errors.Is(err, ErrNotFound) || err == nil && passwordStamp(u.PasswordHash) != t.Stamp {
		return nil, nil, invalid
	}
	if err != nil {
		return nil, nil, unavailable(err)
	}
	return t, u, nil
}
