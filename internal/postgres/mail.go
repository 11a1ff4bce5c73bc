package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/auth"
)

const mailColumns = `id, kind, recipient, user_id, token_id, state, attempts, last_error, created_at, next_attempt_at, sent_at`

func scanMail(row pgx.Row, m *auth.Mail) error {
	return row.Scan(&m.ID, &m.Kind, &m.To, &m.UserID, &m.TokenID, &m.State, &m.Attempts, &m.LastError,
		timeCol{&m.CreatedAt}, timeCol{&m.NextAttemptAt}, timeCol{&m.SentAt})
}

// EnqueueMail inserts m as pending unless maxPending mails are pending
// already. Under READ COMMITTED concurrent inserts do not see each other,
// so the bound can be overshot by the number of racing requests: it is a
// bound on the backlog's order of magnitude, not an exact quota.
func (s *Store) EnqueueMail(ctx context.Context, m *auth.Mail, maxPending int) error {
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO mail_outbox
			(kind, recipient, user_id, token_id, state, created_at, next_attempt_at)
		SELECT $1, $2, $3, $4, 'pending', $5, $6
		WHERE (SELECT count(*) FROM mail_outbox WHERE state = 'pending') < $7
		RETURNING id`,
		m.Kind, m.To, m.UserID, m.TokenID, m.CreatedAt, m.NextAttemptAt, maxPending).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return auth.ErrOutboxFull
	}
	if err != nil {
		return fmt.Errorf("postgres: enqueue mail: %w", err)
	}
	m.ID, m.State = id, auth.MailPending
	return nil
}

// ClaimMail takes the mail due longest. FOR UPDATE SKIP LOCKED lets the
// workers of several nodes claim at once without waiting on each other or
// taking the same row; the lease is committed before the claim returns.
func (s *Store) ClaimMail(ctx context.Context, now, leaseUntil time.Time) (*auth.Mail, error) {
	var m auth.Mail
	err := scanMail(s.pool.QueryRow(ctx, `UPDATE mail_outbox
		SET next_attempt_at = $1, attempts = attempts + 1
		WHERE id = (SELECT id FROM mail_outbox WHERE state = 'pending' AND next_attempt_at <= $2
			ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
		RETURNING `+mailColumns, leaseUntil, now), &m)
	if errors.Is(err, pgx.ErrNoRows) {
		err = auth.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: claim mail: %w", err)
	}
	return &m, nil
}

// AttachMailToken replaces the user's token of t.Purpose with t and names
// it on mail mailID, in one transaction.
func (s *Store) AttachMailToken(ctx context.Context, mailID int64, t *auth.MailToken) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO mail_tokens (id, user_id, purpose, email, stamp, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (user_id, purpose) DO UPDATE SET id = excluded.id, email = excluded.email, stamp = excluded.stamp,
				created_at = excluded.created_at, expires_at = excluded.expires_at`,
			t.ID, t.UserID, t.Purpose, t.Email, t.Stamp, t.CreatedAt, t.ExpiresAt)
		if constraintViolation(err, foreignKeyViolation, "mail_tokens_user_id_fkey") {
			return auth.ErrNotFound
		}
		if err != nil {
			return err
		}
		return execOne(ctx, tx, `UPDATE mail_outbox SET token_id = $1, user_id = $2 WHERE id = $3`,
			t.ID, t.UserID, mailID)
	})
	if err != nil {
		return fmt.Errorf("postgres: attach token to mail %d: %w", mailID, err)
	}
	return nil
}

// FinishMail records the outcome of an attempt on m.
func (s *Store) FinishMail(ctx context.Context, m *auth.Mail) error {
	err := s.execOne(ctx, `UPDATE mail_outbox SET state = $1, next_attempt_at = $2, last_error = $3, sent_at = $4
		WHERE id = $5`, m.State, m.NextAttemptAt, m.LastError, nullTime(m.SentAt), m.ID)
	if err != nil {
		return fmt.Errorf("postgres: finish mail %d: %w", m.ID, err)
	}
	return nil
}

// MailToken returns token id, or auth.ErrNotFound.
func (s *Store) MailToken(ctx context.Context, id string) (*auth.MailToken, error) {
	var t auth.MailToken
	err := s.pool.QueryRow(ctx, `SELECT id, user_id, purpose, email, stamp, created_at, expires_at
		FROM mail_tokens WHERE id = $1`, id).
		Scan(&t.ID, &t.UserID, &t.Purpose, &t.Email, &t.Stamp, timeCol{&t.CreatedAt}, timeCol{&t.ExpiresAt})
	if errors.Is(err, pgx.ErrNoRows) {
		err = auth.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: mail token: %w", err)
	}
	return &t, nil
}

// UseResetToken deletes token id and sets its user's password hash, in
// one transaction: of two concurrent resets with one token, the second
// waits on the first's row lock and then deletes nothing.
func (s *Store) UseResetToken(ctx context.Context, id, hash string, at time.Time) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var userID int64
		err := tx.QueryRow(ctx, `DELETE FROM mail_tokens WHERE id = $1 AND purpose = $2 RETURNING user_id`,
			id, auth.KindPasswordReset).Scan(&userID)
		if errors.Is(err, pgx.ErrNoRows) {
			return auth.ErrNotFound
		}
		if err != nil {
			return err
		}
		return execOne(ctx, tx, `UPDATE users SET password_hash = $1, updated_at = $2, email_confirmation_pending = false WHERE id = $3`,
			hash, at, userID)
	})
	if err != nil {
		return fmt.Errorf("postgres: use reset token: %w", err)
	}
	return nil
}

// UseEmailToken deletes confirmation token id and moves its user to the
// token's address, confirmed, in one transaction.
func (s *Store) UseEmailToken(ctx context.Context, id string, at time.Time) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var userID int64
		var email string
		err := tx.QueryRow(ctx, `DELETE FROM mail_tokens WHERE id = $1 AND purpose = $2 RETURNING user_id, email`,
			id, auth.KindConfirmEmail).Scan(&userID, &email)
		if errors.Is(err, pgx.ErrNoRows) {
			return auth.ErrNotFound
		}
		if err != nil {
			return err
		}
		err = execOne(ctx, tx, `UPDATE users SET email = $1, email_confirmation_pending = false, updated_at = $2
			WHERE id = $3`, email, at, userID)
		if constraintViolation(err, uniqueViolation, "users_email_key") {
			return auth.ErrEmailTaken
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: use email token: %w", err)
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
	rows, err := s.pool.Query(ctx, `SELECT `+mailColumns+` FROM mail_outbox WHERE id < $1
		ORDER BY id DESC LIMIT $2`, beforeID, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: list mails: %w", err)
	}
	defer rows.Close()
	var out []auth.Mail
	for rows.Next() {
		var m auth.Mail
		if err := scanMail(rows, &m); err != nil {
			return nil, fmt.Errorf("postgres: list mails: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list mails: %w", err)
	}
	return out, nil
}

// RetryMail makes mail id pending again, due at at.
func (s *Store) RetryMail(ctx context.Context, id int64, at time.Time) error {
	err := s.execOne(ctx, `UPDATE mail_outbox SET state = 'pending', attempts = 0, next_attempt_at = $1
		WHERE id = $2`, at, id)
	if err != nil {
		return fmt.Errorf("postgres: retry mail %d: %w", id, err)
	}
	return nil
}

// CountPendingMails counts the backlog.
func (s *Store) DeleteFinishedMails(ctx context.Context, before time.Time, limit int) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM mail_outbox WHERE id IN (
		SELECT id FROM mail_outbox WHERE state <> 'pending' AND created_at < $1 LIMIT $2)`, before, limit)
	if err != nil {
		return 0, fmt.Errorf("postgres: delete finished mails: %w", err)
	}
	return tag.RowsAffected(), nil
}

func (s *Store) CountPendingMails(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM mail_outbox WHERE state = 'pending'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count pending mails: %w", err)
	}
	return n, nil
}

// execOne runs a single-row write in tx; auth.ErrNotFound if it matched no
// row.
func execOne(ctx context.Context, tx pgx.Tx, query string, args ...any) error {
	tag, err := tx.Exec(ctx, query, args...)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return auth.ErrNotFound
	}
	return nil
}
