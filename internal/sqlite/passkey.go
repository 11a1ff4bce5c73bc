package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/passkey"
)

var _ passkey.Store = (*Store)(nil)

// PasskeyHandle returns the user's handle, storing fresh if there is none:
// the no-op update makes RETURNING answer the winner of a race too.
func (s *Store) PasskeyHandle(ctx context.Context, userID int64, fresh []byte) ([]byte, error) {
	var h []byte
	err := s.writer.QueryRowContext(ctx, `INSERT INTO passkey_handles (user_id, handle) VALUES (?, ?)
		ON CONFLICT (user_id) DO UPDATE SET handle = handle RETURNING handle`, userID, fresh).Scan(&h)
	if isForeignKeyViolation(err) {
		return nil, auth.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: passkey handle: %w", err)
	}
	return h, nil
}

// FindPasskeyHandle returns the user's handle, if it has one.
func (s *Store) FindPasskeyHandle(ctx context.Context, userID int64) ([]byte, error) {
	var h []byte
	err := s.reader.QueryRowContext(ctx, `SELECT handle FROM passkey_handles WHERE user_id = ?`, userID).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, auth.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: find passkey handle: %w", err)
	}
	return h, nil
}

// PasskeyUser returns the user whose handle is handle.
func (s *Store) PasskeyUser(ctx context.Context, handle []byte) (int64, error) {
	var id int64
	err := s.reader.QueryRowContext(ctx, `SELECT user_id FROM passkey_handles WHERE handle = ?`, handle).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, auth.ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: passkey user: %w", err)
	}
	return id, nil
}

// AddPasskey inserts c.
func (s *Store) AddPasskey(ctx context.Context, c *passkey.Credential) error {
	_, err := s.writer.ExecContext(ctx, `INSERT INTO passkey_credentials (`+passkeyColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.UserID, c.PublicKey, int64(c.SignCount), nonNil(c.AAGUID), passkey.JoinTransports(c.Transports),
		c.BackupEligible, c.BackedUp, c.Name, micros(c.CreatedAt), nullMicros(c.LastUsedAt))
	switch {
	case isUniqueViolation(err):
		return passkey.ErrCredentialTaken
	case isForeignKeyViolation(err):
		return auth.ErrNotFound
	case err != nil:
		return fmt.Errorf("sqlite: add passkey: %w", err)
	}
	return nil
}

// nonNil stores an absent AAGUID as an empty blob, not NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

const passkeyColumns = `id, user_id, public_key, sign_count, aaguid, transports,
	backup_eligible, backed_up, name, created_at, last_used_at`

func scanPasskey(row interface{ Scan(...any) error }, c *passkey.Credential) error {
	var count int64
	var transports string
	err := row.Scan(&c.ID, &c.UserID, &c.PublicKey, &count, &c.AAGUID, &transports,
		&c.BackupEligible, &c.BackedUp, &c.Name, timeCol{&c.CreatedAt}, timeCol{&c.LastUsedAt})
	c.SignCount, c.Transports = uint32(count), passkey.SplitTransports(transports)
	return err
}

// Passkeys returns the user's passkeys, oldest first.
func (s *Store) Passkeys(ctx context.Context, userID int64) ([]passkey.Credential, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+passkeyColumns+` FROM passkey_credentials
		WHERE user_id = ? ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: passkeys: %w", err)
	}
	out, err := collect(rows, []passkey.Credential(nil), scanPasskey)
	if err != nil {
		return nil, fmt.Errorf("sqlite: passkeys: %w", err)
	}
	return out, nil
}

// RenamePasskey renames the user's passkey id.
func (s *Store) RenamePasskey(ctx context.Context, userID int64, id []byte, name string) error {
	err := rowsAffected(s.writer.ExecContext(ctx, `UPDATE passkey_credentials SET name = ?
		WHERE id = ? AND user_id = ?`, name, id, userID))
	if err != nil {
		return fmt.Errorf("sqlite: rename passkey: %w", err)
	}
	return nil
}

// DeletePasskey deletes the user's passkey id.
func (s *Store) DeletePasskey(ctx context.Context, userID int64, id []byte) error {
	err := rowsAffected(s.writer.ExecContext(ctx, `DELETE FROM passkey_credentials
		WHERE id = ? AND user_id = ?`, id, userID))
	if err != nil {
		return fmt.Errorf("sqlite: delete passkey: %w", err)
	}
	return nil
}

// DeletePasskeys deletes every passkey of the user.
func (s *Store) DeletePasskeys(ctx context.Context, userID int64) (int, error) {
	res, err := s.writer.ExecContext(ctx, `DELETE FROM passkey_credentials WHERE user_id = ?`, userID)
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete passkeys: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete passkeys: %w", err)
	}
	return int(n), nil
}

// UsePasskey records a use if the counter moved forward (or both are 0).
func (s *Store) UsePasskey(ctx context.Context, id []byte, count uint32, backedUp bool, at time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		err := rowsAffected(tx.ExecContext(ctx, `UPDATE passkey_credentials
			SET sign_count = ?1, backed_up = ?2, last_used_at = ?3
			WHERE id = ?4 AND (sign_count < ?1 OR (sign_count = 0 AND ?1 = 0))`,
			int64(count), backedUp, micros(at), id))
		if !errors.Is(err, auth.ErrNotFound) {
			return err
		}
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM passkey_credentials WHERE id = ?`, id).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return auth.ErrNotFound
		} else if err != nil {
			return err
		}
		return passkey.ErrCounterRegressed
	})
	if err != nil {
		return fmt.Errorf("sqlite: use passkey: %w", err)
	}
	return nil
}

// SaveCeremony stores c after pruning a batch of expired ceremonies.
func (s *Store) SaveCeremony(ctx context.Context, c *passkey.Ceremony, now time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM passkey_ceremonies WHERE key IN
			(SELECT key FROM passkey_ceremonies WHERE expires_at < ? LIMIT ?)`, micros(now), passkey.PruneBatch)
		if err != nil {
			return err
		}
		if c.SessionID != "" {
			_, err = tx.ExecContext(ctx, `DELETE FROM passkey_ceremonies WHERE session_id = ? AND kind = ?`, c.SessionID, string(c.Kind))
			if err != nil {
				return err
			}
		}
		var userID any
		if c.UserID != 0 {
			userID = c.UserID
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO passkey_ceremonies
			(key, kind, session_id, user_id, name, data, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			c.Key, string(c.Kind), c.SessionID, userID, c.Name, c.Data, micros(c.ExpiresAt))
		if isForeignKeyViolation(err) {
			return auth.ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: save ceremony: %w", err)
	}
	return nil
}

// TakeCeremony deletes and returns ceremony key.
func (s *Store) TakeCeremony(ctx context.Context, key string) (*passkey.Ceremony, error) {
	c := passkey.Ceremony{Key: key}
	var kind string
	var userID sql.NullInt64
	err := s.writer.QueryRowContext(ctx, `DELETE FROM passkey_ceremonies WHERE key = ?
		RETURNING kind, session_id, user_id, name, data, expires_at`, key).
		Scan(&kind, &c.SessionID, &userID, &c.Name, &c.Data, timeCol{&c.ExpiresAt})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, auth.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: take ceremony: %w", err)
	}
	c.Kind, c.UserID = passkey.Kind(kind), userID.Int64
	return &c, nil
}
