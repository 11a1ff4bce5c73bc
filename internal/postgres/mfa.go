package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/mfa"
)

// PutTOTP stores an unconfirmed TOTP secret, replacing an unconfirmed
// one; a confirmed one stays (auth.ErrConflict).
func (s *Store) PutTOTP(ctx context.Context, userID int64, sealed []byte, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `INSERT INTO totp_secrets (user_id, sealed, created_at)
		VALUES ($1, $2, $3)
		ON CONFLICT (user_id) DO UPDATE SET sealed = excluded.sealed, created_at = excluded.created_at, last_step = 0
		WHERE totp_secrets.confirmed_at IS NULL`, userID, sealed, at)
	switch {
	case constraintViolation(err, foreignKeyViolation, "totp_secrets_user_id_fkey"):
		err = fmt.Errorf("user %d: %w", userID, auth.ErrNotFound)
	case err == nil && tag.RowsAffected() == 0:
		err = auth.ErrConflict
	}
	if err != nil {
		return writeError(fmt.Sprintf("put totp of user %d", userID), err)
	}
	return nil
}

// TOTP returns userID's secret, or auth.ErrNotFound.
func (s *Store) TOTP(ctx context.Context, userID int64) (*mfa.TOTP, error) {
	t := mfa.TOTP{UserID: userID}
	err := s.pool.QueryRow(ctx, `SELECT sealed, created_at, confirmed_at, last_step
		FROM totp_secrets WHERE user_id = $1`, userID).
		Scan(&t.Sealed, timeCol{&t.CreatedAt}, timeCol{&t.ConfirmedAt}, &t.LastStep)
	if errors.Is(err, pgx.ErrNoRows) {
		err = auth.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: totp of user %d: %w", userID, err)
	}
	return &t, nil
}

// UseTOTPStep is one conditional UPDATE: of any number of requests with
// the same code, on any nodes, one moves last_step; the others wait for
// its row lock, re-check, and find it moved.
func (s *Store) UseTOTPStep(ctx context.Context, userID int64, sealed []byte, step int64, at time.Time, confirm bool) error {
	tag, err := s.pool.Exec(ctx, `UPDATE totp_secrets
		SET last_step = $4, confirmed_at = COALESCE(confirmed_at, $5)
		WHERE user_id = $1 AND sealed = $2 AND last_step < $4 AND (confirmed_at IS NULL) = $3`,
		userID, sealed, confirm, step, at)
	if err == nil && tag.RowsAffected() == 0 {
		err = auth.ErrConflict
	}
	if err != nil {
		return writeError(fmt.Sprintf("use totp step of user %d", userID), err)
	}
	return nil
}

// DeleteTOTP removes userID's secret, if any.
func (s *Store) DeleteTOTP(ctx context.Context, userID int64) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM totp_secrets WHERE user_id = $1`, userID); err != nil {
		return writeError(fmt.Sprintf("delete totp of user %d", userID), err)
	}
	return nil
}

// DeleteUnconfirmedTOTP removes userID's secret if it is unconfirmed, in
// one statement: a confirmation that wins the race keeps its secret.
func (s *Store) DeleteUnconfirmedTOTP(ctx context.Context, userID int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM totp_secrets WHERE user_id = $1 AND confirmed_at IS NULL`, userID)
	if err == nil && tag.RowsAffected() == 0 {
		err = auth.ErrNotFound
	}
	if err != nil {
		return writeError(fmt.Sprintf("delete unconfirmed totp of user %d", userID), err)
	}
	return nil
}

// ReplaceRecoveryCodes swaps userID's codes for hashes in one transaction.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID int64, hashes [][]byte, at time.Time) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO recovery_codes (user_id, hash, created_at)
			SELECT $1, h, $3 FROM unnest($2::bytea[]) AS h`, userID, hashes, at)
		if constraintViolation(err, foreignKeyViolation, "recovery_codes_user_id_fkey") {
			return fmt.Errorf("user %d: %w", userID, auth.ErrNotFound)
		}
		return err
	})
	if err != nil {
		return writeError(fmt.Sprintf("replace recovery codes of user %d", userID), err)
	}
	return nil
}

// UseRecoveryCode marks one unused code used, in one statement.
func (s *Store) UseRecoveryCode(ctx context.Context, userID int64, hash []byte, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE recovery_codes SET used_at = $3
		WHERE user_id = $1 AND hash = $2 AND used_at IS NULL`, userID, hash, at)
	if err == nil && tag.RowsAffected() == 0 {
		err = auth.ErrNotFound
	}
	if err != nil {
		return writeError(fmt.Sprintf("use recovery code of user %d", userID), err)
	}
	return nil
}

// RestoreRecoveryCode marks a used code unused again, if it is still
// there.
func (s *Store) RestoreRecoveryCode(ctx context.Context, userID int64, hash []byte) error {
	_, err := s.pool.Exec(ctx, `UPDATE recovery_codes SET used_at = NULL
		WHERE user_id = $1 AND hash = $2 AND used_at IS NOT NULL`, userID, hash)
	if err != nil {
		return writeError(fmt.Sprintf("restore recovery code of user %d", userID), err)
	}
	return nil
}

// RecoveryCodesLeft counts userID's unused codes.
func (s *Store) RecoveryCodesLeft(ctx context.Context, userID int64) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL`, userID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("postgres: count recovery codes of user %d: %w", userID, err)
	}
	return n, nil
}

// DeleteRecoveryCodes removes userID's codes, if any.
func (s *Store) DeleteRecoveryCodes(ctx context.Context, userID int64) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
		return writeError(fmt.Sprintf("delete recovery codes of user %d", userID), err)
	}
	return nil
}
