package auth

import (
	"context"
	"time"
)

// MailKind names what a mail is for; each kind has its own templates.
type MailKind string

// Mail kinds. A kind that carries a link (KindPasswordReset) is enqueued
// as a request without a token; the outbox worker issues the token when it
// takes the mail (see Service.NextMail).
const (
	KindPasswordReset   MailKind = "password_reset"
	KindPasswordChanged MailKind = "password_changed"
	// KindConfirmEmail asks to confirm the account's address; its token
	// has purpose KindConfirmEmail.
	KindConfirmEmail MailKind = "confirm_email"
	// KindEmailChange goes to the new address of an address change; its
	// token (purpose KindConfirmEmail) names that address.
	KindEmailChange MailKind = "email_change"
	// KindEmailChangeNotice tells the old address of a change request.
	KindEmailChangeNotice MailKind = "email_change_notice"
	// Second factors (FactorChanged): notices to the owner.
	KindFactorAdded      MailKind = "factor_added"
	KindFactorRemoved    MailKind = "factor_removed"
	KindRecoveryCodeUsed MailKind = "recovery_code_used"
)

// MailState is where a mail is in the outbox.
type MailState string

// Mail states. Mails are kept in every state, for inspection.
const (
	MailPending MailState = "pending" // waiting for its (next) attempt
	MailSent    MailState = "sent"
	MailDropped MailState = "dropped" // nothing to send: no such account, or its link expired first
	MailFailed  MailState = "failed"  // gave up after MaxMailAttempts; `mail retry` revives it
)

// Mail is one row of the outbox. It never holds a usable token: TokenID
// names the token, and only a holder of the key can derive the token
// itself from it.
type Mail struct {
	ID        int64
	Kind      MailKind
	To        string
	UserID    int64  // 0 until the worker resolves To to an account
	TokenID   string // "" until the worker issues the link's token
	State     MailState
	Attempts  int
	LastError string
	CreatedAt time.Time
	// NextAttemptAt is when the mail is next due. While a worker holds the
	// mail it is the end of that worker's lease: a worker that dies
	// mid-send leaves the mail to be taken again when the lease ends.
	NextAttemptAt time.Time
	SentAt        time.Time
}

// MailToken is the stored half of a link's token. It is not a credential:
// the token is ID plus a MAC over these fields under the service key.
type MailToken struct {
	ID      string
	UserID  int64
	Purpose MailKind
	// Email is the address the link proves: the account's for a reset or
	// confirmation, the new one for an address change.
	Email string
	// Stamp fingerprints the password hash at issue: the token dies when
	// the password changes.
	Stamp     string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// MailStore is the outbox and the links' tokens.
type MailStore interface {
	// EnqueueMail inserts m as pending, setting m.ID, unless maxPending
	// mails are already pending: then ErrOutboxFull and nothing is stored.
	EnqueueMail(ctx context.Context, m *Mail, maxPending int) error
	// ClaimMail takes the pending mail that has been due longest at now,
	// counts an attempt and moves its NextAttemptAt to leaseUntil, so no
	// other worker on any node takes it before then. ErrNotFound if no
	// mail is due.
	ClaimMail(ctx context.Context, now, leaseUntil time.Time) (*Mail, error)
	// AttachMailToken stores t, replacing the user's earlier token of the
	// same purpose (which so dies), and records t.ID and t.UserID on mail
	// mailID, in one transaction. ErrNotFound if the mail or user is gone.
	AttachMailToken(ctx context.Context, mailID int64, t *MailToken) error
	// FinishMail records the outcome of an attempt: m's State,
	// NextAttemptAt, LastError and SentAt. ErrNotFound if absent.
	FinishMail(ctx context.Context, m *Mail) error
	// MailToken returns token id. ErrNotFound if absent.
	MailToken(ctx context.Context, id string) (*MailToken, error)
	// UseResetToken deletes token id and sets its user's password hash in
	// one transaction: the token works once. The address is then proven,
	// so EmailUnconfirmed is cleared too. ErrNotFound if it is gone.
	UseResetToken(ctx context.Context, id, hash string, at time.Time) error
	// UseEmailToken deletes confirmation token id and, in the same
	// transaction, sets its user's email to the token's and clears the
	// user's EmailUnconfirmed. ErrNotFound if the token is gone;
	// ErrEmailTaken if another account has the address by now.
	UseEmailToken(ctx context.Context, id string, at time.Time) error
	// ListMails returns up to limit mails with ID < beforeID (any ID for
	// beforeID <= 0), newest first.
	ListMails(ctx context.Context, beforeID int64, limit int) ([]Mail, error)
	// RetryMail makes mail id pending again, due at at, with no attempts
	// counted. ErrNotFound if absent.
	RetryMail(ctx context.Context, id int64, at time.Time) error
	// CountPendingMails counts the backlog (a metric and the bound).
	CountPendingMails(ctx context.Context) (int64, error)
	// DeleteFinishedMails deletes up to limit mails that are no longer
	// pending (sent, dropped, failed) and were queued before before, and
	// returns how many it deleted: a mail names its recipient, so the
	// outbox keeps it for inspection, not for ever.
	DeleteFinishedMails(ctx context.Context, before time.Time, limit int) (int64, error)
}
