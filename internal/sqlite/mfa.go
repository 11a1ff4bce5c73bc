package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/mfa"
)

// PutTOTP stores an unconfirmed TOTP secret, replacing an unconfirmed
// one; a confirmed one stays (auth.ErrConflict).
func (s *Store) PutTOTP(ctx context.Context, userID int64, sealed []byte, at time.Time) error {
	res, err := s.writer.ExecContext(ctx, `INSERT INTO totp_secrets (user_id, sealed, created_at)
		VALUES (?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET sealed = excluded.sealed, created_at = excluded.created_at, last_step = 0
		WHERE totp_secrets.confirmed_at IS NULL`, userID, sealed, micros(at))
	switch {
	case isForeignKeyViolation(err):
		err = fmt.Errorf("user %d: %w", userID, auth.ErrNotFound)
	case err == nil:
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = auth.ErrConflict
		}
	}
	if err != nil {
		return fmt.Errorf("sqlite: put totp of user %d: %w", userID, err)
	}
	return nil
}

// TOTP returns userID's secret, or auth.ErrNotFound.
func (s *Store) TOTP(ctx context.Context, userID int64) (*mfa.TOTP, error) {
	t := mfa.TOTP{UserID: userID}
	err := s.reader.QueryRowContext(ctx, `SELECT sealed, created_at, confirmed_at, last_step
		FROM totp_secrets WHERE user_id = ?`, userID).
		Scan(&t.Sealed, timeCol{&t.CreatedAt}, timeCol{&t.ConfirmedAt}, &t.LastStep)
	if errors.Is(err, sql.ErrNoRows) {
		err = auth.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: totp of user %d: %w", userID, err)
	}
	return &t, nil
}

// UseTOTPStep is one conditional UPDATE: of any number of requests with
// the same code, one moves last_step and the rest find it moved.
func (s *Store) UseTOTPStep(ctx context.Context, userID int64, sealed []byte, step int64, at time.Time, confirm bool) error {
	err := rowsAffected(s.writer.ExecContext(ctx, `UPDATE totp_secrets
		SET last_step = ?, confirmed_at = COALESCE(confirmed_at, ?)
		WHERE user_id = ? AND sealed = ? AND last_step < ? AND (confirmed_at IS NULL) = ?`,
		step, micros(at), userID, sealed, step, confirm))
	if errors.Is(err, auth.ErrNotFound) {
		err = auth.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("sqlite: use totp step of user %d: %w", userID, err)
	}
	return nil
}

// DeleteTOTP removes userID's secret, if any.
func (s *Store) DeleteTOTP(ctx context.Context, userID int64) error {
	if _, err := s.writer.ExecContext(ctx, `DELETE FROM totp_secrets WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("sqlite: delete totp of user %d: %w", userID, err)
	}
	return nil
}

// DeleteUnconfirmedTOTP removes userID's secret if it is unconfirmed, in
// one statement: a confirmation that wins the race keeps its secret.
func (s *Store) DeleteUnconfirmedTOTP(ctx context.Context, userID int64) error {
	err := rowsAffected(s.writer.ExecContext(ctx, `DELETE FROM totp_secrets
		WHERE user_id = ? AND confirmed_at IS NULL`, userID))
	if err != nil {
		return fmt.Errorf("sqlite: delete unconfirmed totp of user %d: %w", userID, err)
	}
	return nil
}

// ReplaceRecoveryCodes swaps userID's codes for hashes in one transaction.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID int64, hashes [][]byte, at time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID); err != nil {
			return err
		}
		for _, h := range hashes {
			_, err := tx.ExecContext(ctx, `INSERT INTO recovery_codes (user_id, hash, created_at) VALUES (?, ?, ?)`, userID, h, micros(at))
			if isForeignKeyViolation(err) {
				return fmt.Errorf("user %d: %w", userID, auth.ErrNotFound)
			} else if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: replace recovery codes of user %d: %w", userID, err)
	}
	return nil
}

// UseRecoveryCode marks one unused code used, in one statement.
func (s *Store) UseRecoveryCode(ctx context.Context, userID int64, hash []byte, at time.Time) error {
	err := rowsAffected(s.writer.ExecContext(ctx, `UPDATE recovery_codes SET used_at = ?
		WHERE user_id = ? AND hash = ? AND used_at IS NULL`, micros(at), userID, hash))
	if err != nil {
		return fmt.Errorf("sqlite: use recovery code of user %d: %w", userID, err)
	}
	return nil
}

// RestoreRecoveryCode marks a used code unused again, if it is still
// there.
func (s *Store) RestoreRecoveryCode(ctx context.Context, userID int64, hash []byte) error {
	_, err := s.writer.ExecContext(ctx, `UPDATE recovery_codes SET used_at = NULL
		WHERE user_id = ? AND hash = ? AND used_at IS NOT NULL`, userID, hash)
	if err != nil {
		return fmt.Errorf("sqlite: restore recovery code of user %d: %w", userID, err)
	}
	return nil
}

// RecoveryCodesLeft counts userID's unused codes.
func (s *Store) RecoveryCodesLeft(ctx context.Context, userID int64) (int, error) {
	var n int
	err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL`, userID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: count recovery codes of user %d: %w", userID, err)
	}
	return n, nil
}

// DeleteRecoveryCodes removes userID's codes, if any.
func (s *Store) DeleteRecoveryCodes(ctx context.Context, userID int64) error {
	if _, err := s.writer.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("sqlite: delete recovery codes of user %d: %w", userID, err)
	}
	return nil
}
