package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
)

const mailColumns = `id, kind, recipient, user_id, token_id, state, attempts, last_error, created_at, next_attempt_at, sent_at`

func scanMail(row interface{ Scan(...any) error }, m *auth.Mail) error {
	return row.Scan(&m.ID, &m.Kind, &m.To, &m.UserID, &m.TokenID, &m.State, &m.Attempts, &m.LastError,
		timeCol{&m.CreatedAt}, timeCol{&m.NextAttemptAt}, timeCol{&m.SentAt})
}

// EnqueueMail inserts m as pending unless maxPending mails are pending
// already. The count and the insert are one statement on the one writer
// connection, so the bound holds exactly however many requests race.
func (s *Store) EnqueueMail(ctx context.Context, m *auth.Mail, maxPending int) error {
	var id int64
	err := s.writer.QueryRowContext(ctx, `INSERT INTO mail_outbox
			(kind, recipient, user_id, token_id, state, created_at, next_attempt_at)
		SELECT ?, ?, ?, ?, 'pending', ?, ?
		WHERE (SELECT count(*) FROM mail_outbox WHERE state = 'pending') < ?
		RETURNING id`,
		m.Kind, m.To, m.UserID, m.TokenID, micros(m.CreatedAt), micros(m.NextAttemptAt), maxPending).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return auth.ErrOutboxFull
	}
	if err != nil {
		return fmt.Errorf("sqlite: enqueue mail: %w", err)
	}
	m.ID, m.State = id, auth.MailPending
	return nil
}

// ClaimMail takes the mail due longest. One UPDATE … RETURNING on the single
// writer connection: two workers (two processes on one file serialize on
// the file's write lock) can never take the same row, and the lease is
// written before the claim returns.
func (s *Store) ClaimMail(ctx context.Context, now, leaseUntil time.Time) (*auth.Mail, error) {
	var m auth.Mail
	err := scanMail(s.writer.QueryRowContext(ctx, `UPDATE mail_outbox
		SET next_attempt_at = ?, attempts = attempts + 1
		WHERE id = (SELECT id FROM mail_outbox WHERE state = 'pending' AND next_attempt_at <= ?
			ORDER BY next_attempt_at, id LIMIT 1)
		RETURNING `+mailColumns, micros(leaseUntil), micros(now)), &m)
	if errors.Is(err, sql.ErrNoRows) {
		err = auth.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim mail: %w", err)
	}
	return &m, nil
}

// AttachMailToken replaces the user's token of t.Purpose with t and names
// it on mail mailID, in one transaction.
func (s *Store) AttachMailToken(ctx context.Context, mailID int64, t *auth.MailToken) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO mail_tokens (id, user_id, purpose, email, stamp, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (user_id, purpose) DO UPDATE SET id = excluded.id, email = excluded.email, stamp = excluded.stamp,
				created_at = excluded.created_at, expires_at = excluded.expires_at`,
			t.ID, t.UserID, t.Purpose, t.Email, t.Stamp, micros(t.CreatedAt), micros(t.ExpiresAt))
		if isForeignKeyViolation(err) {
			return auth.ErrNotFound
		}
		if err != nil {
			return err
		}
		return rowsAffected(tx.ExecContext(ctx, `UPDATE mail_outbox SET token_id = ?, user_id = ? WHERE id = ?`,
			t.ID, t.UserID, mailID))
	})
	if err != nil {
		return fmt.Errorf("sqlite: attach token to mail %d: %w", mailID, err)
	}
	return nil
}

// FinishMail records the outcome of an attempt on m.
func (s *Store) FinishMail(ctx context.Context, m *auth.Mail) error {
	err := s.execOne(ctx, `UPDATE mail_outbox SET state = ?, next_attempt_at = ?, last_error = ?, sent_at = ?
		WHERE id = ?`, m.State, micros(m.NextAttemptAt), m.LastError, nullMicros(m.SentAt), m.ID)
	if err != nil {
		return fmt.Errorf("sqlite: finish mail %d: %w", m.ID, err)
	}
	return nil
}

// MailToken returns token id, or auth.ErrNotFound.
func (s *Store) MailToken(ctx context.Context, id string) (*auth.MailToken, error) {
	var t auth.MailToken
	err := s.reader.QueryRowContext(ctx, `SELECT id, user_id, purpose, email, stamp, created_at, expires_at
		FROM mail_tokens WHERE id = ?`, id).
		Scan(&t.ID, &t.UserID, &t.Purpose, &t.Email, &t.Stamp, timeCol{&t.CreatedAt}, timeCol{&t.ExpiresAt})
	if errors.Is(err, sql.ErrNoRows) {
		err = auth.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: mail token: %w", err)
	}
	return &t, nil
}

// UseResetToken deletes token id and sets its user's password hash, in
// one transaction: of two concurrent resets with one token, one deletes
// the row and the other finds it gone.
func (s *Store) UseResetToken(ctx context.Context, id, hash string, at time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var userID int64
		err := tx.QueryRowContext(ctx, `DELETE FROM mail_tokens WHERE id = ? AND purpose = ? RETURNING user_id`,
			id, auth.KindPasswordReset).Scan(&userID)
		if errors.Is(err, sql.ErrNoRows) {
			return auth.ErrNotFound
		}
		if err != nil {
			return err
		}
		return rowsAffected(tx.ExecContext(ctx, `UPDATE users SET password_hash = ?, updated_at = ?, email_confirmation_pending = 0 WHERE id = ?`,
			hash, micros(at), userID))
	})
	if err != nil {
		return fmt.Errorf("sqlite: use reset token: %w", err)
	}
	return nil
}

// UseEmailToken deletes confirmation token id and moves its user to the
// token's address, confirmed, in one transaction.
func (s *Store) UseEmailToken(ctx context.Context, id string, at time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var userID int64
		var email string
		err := tx.QueryRowContext(ctx, `DELETE FROM mail_tokens WHERE id = ? AND purpose = ? RETURNING user_id, email`,
			id, auth.KindConfirmEmail).Scan(&userID, &email)
		if errors.Is(err, sql.ErrNoRows) {
			return auth.ErrNotFound
		}
		if err != nil {
			return err
		}
		err = rowsAffected(tx.ExecContext(ctx, `UPDATE users SET email = ?, email_confirmation_pending = 0, updated_at = ?
			WHERE id = ?`, email, micros(at), userID))
		if isUniqueViolation(err) {
			return auth.ErrEmailTaken
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: use email token: %w", err)
	}
	return nil
}

// ListMails returns up to limit mails below beforeID, newest first.
func (s *Store) ListMails(ctx context.Context, beforeID int64, limit int) ([]auth.Mail, error) {
	if limit <= 0 {
		return nil, nil
	}
	if beforeID <= 0 {
		beforeID = 1<<63 - 1
	}
	rows, err := s.reader.QueryContext(ctx, `SELECT `+mailColumns+` FROM mail_outbox WHERE id < ?
		ORDER BY id DESC LIMIT ?`, beforeID, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list mails: %w", err)
	}
	out, err := collect(rows, []auth.Mail(nil), scanMail)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list mails: %w", err)
	}
	return out, nil
}

// RetryMail makes mail id pending again, due at at.
func (s *Store) RetryMail(ctx context.Context, id int64, at time.Time) error {
	err := s.execOne(ctx, `UPDATE mail_outbox SET state = 'pending', attempts = 0, next_attempt_at = ?
		WHERE id = ?`, micros(at), id)
	if err != nil {
		return fmt.Errorf("sqlite: retry mail %d: %w", id, err)
	}
	return nil
}

// CountPendingMails counts the backlog.
func (s *Store) DeleteFinishedMails(ctx context.Context, before time.Time, limit int) (int64, error) {
	n, err := rowsChanged(s.writer.ExecContext(ctx, `DELETE FROM mail_outbox WHERE id IN (
		SELECT id FROM mail_outbox WHERE state <> 'pending' AND created_at < ? LIMIT ?)`,
		micros(before), limit))
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete finished mails: %w", err)
	}
	return n, nil
}

func (s *Store) CountPendingMails(ctx context.Context) (int64, error) {
	var n int64
	if err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM mail_outbox WHERE state = 'pending'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count pending mails: %w", err)
	}
	return n, nil
}
