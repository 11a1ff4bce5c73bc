package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/passkey"
)

var _ passkey.Store = (*Store)(nil)

// PasskeyHandle returns the user's handle, storing fresh if there is none:
// the no-op update makes RETURNING answer the winner of a race too.
func (s *Store) PasskeyHandle(ctx context.Context, userID int64, fresh []byte) ([]byte, error) {
	var h []byte
	err := s.pool.QueryRow(ctx, `INSERT INTO passkey_handles (user_id, handle) VALUES ($1, $2)
		ON CONFLICT (user_id) DO UPDATE SET handle = passkey_handles.handle RETURNING handle`, userID, fresh).Scan(&h)
	if constraintViolation(err, foreignKeyViolation, "passkey_handles_user_id_fkey") {
		return nil, auth.ErrNotFound
	}
	if err != nil {
		return nil, writeError("passkey handle", err)
	}
	return h, nil
}

// FindPasskeyHandle returns the user's handle, if it has one.
func (s *Store) FindPasskeyHandle(ctx context.Context, userID int64) ([]byte, error) {
	var h []byte
	err := s.pool.QueryRow(ctx, `SELECT handle FROM passkey_handles WHERE user_id = $1`, userID).Scan(&h)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, auth.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: find passkey handle: %w", err)
	}
	return h, nil
}

// PasskeyUser returns the user whose handle is handle.
func (s *Store) PasskeyUser(ctx context.Context, handle []byte) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT user_id FROM passkey_handles WHERE handle = $1`, handle).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, auth.ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: passkey user: %w", err)
	}
	return id, nil
}

// AddPasskey inserts c.
func (s *Store) AddPasskey(ctx context.Context, c *passkey.Credential) error {
	aaguid := c.AAGUID
	if aaguid == nil {
		aaguid = []byte{}
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO passkey_credentials (`+passkeyColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		c.ID, c.UserID, c.PublicKey, int64(c.SignCount), aaguid, passkey.JoinTransports(c.Transports),
		c.BackupEligible, c.BackedUp, c.Name, c.CreatedAt, nullTime(c.LastUsedAt))
	switch {
	case constraintViolation(err, uniqueViolation, "passkey_credentials_pkey"):
		return passkey.ErrCredentialTaken
	case constraintViolation(err, foreignKeyViolation, "passkey_credentials_user_id_fkey"):
		return auth.ErrNotFound
	case err != nil:
		return writeError("add passkey", err)
	}
	return nil
}

const passkeyColumns = `id, user_id, public_key, sign_count, aaguid, transports,
	backup_eligible, backed_up, name, created_at, last_used_at`

func scanPasskey(row pgx.Row, c *passkey.Credential) error {
	var count int64
	var transports string
	err := row.Scan(&c.ID, &c.UserID, &c.PublicKey, &count, &c.AAGUID, &transports,
		&c.BackupEligible, &c.BackedUp, &c.Name, timeCol{&c.CreatedAt}, timeCol{&c.LastUsedAt})
	c.SignCount, c.Transports = uint32(count), passkey.SplitTransports(transports)
	return err
}

// Passkeys returns the user's passkeys, oldest first.
func (s *Store) Passkeys(ctx context.Context, userID int64) ([]passkey.Credential, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+passkeyColumns+` FROM passkey_credentials
		WHERE user_id = $1 ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("postgres: passkeys: %w", err)
	}
	out, err := pgx.CollectRows(rows, rowTo(scanPasskey))
	if err != nil {
		return nil, fmt.Errorf("postgres: passkeys: %w", err)
	}
	return out, nil
}

// RenamePasskey renames the user's passkey id.
func (s *Store) RenamePasskey(ctx context.Context, userID int64, id []byte, name string) error {
	err := s.execOne(ctx, `UPDATE passkey_credentials SET name = $1 WHERE id = $2 AND user_id = $3`, name, id, userID)
	if err != nil {
		return writeError("rename passkey", err)
	}
	return nil
}

// DeletePasskey deletes the user's passkey id.
func (s *Store) DeletePasskey(ctx context.Context, userID int64, id []byte) error {
	err := s.execOne(ctx, `DELETE FROM passkey_credentials WHERE id = $1 AND user_id = $2`, id, userID)
	if err != nil {
		return writeError("delete passkey", err)
	}
	return nil
}

// DeletePasskeys deletes every passkey of the user.
func (s *Store) DeletePasskeys(ctx context.Context, userID int64) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM passkey_credentials WHERE user_id = $1`, userID)
	if err != nil {
		return 0, writeError("delete passkeys", err)
	}
	return int(tag.RowsAffected()), nil
}

// UsePasskey records a use if the counter moved forward (or both are 0).
// One statement: the row lock of the UPDATE orders racing uses, and the
// second re-evaluates the condition against the first's counter.
func (s *Store) UsePasskey(ctx context.Context, id []byte, count uint32, backedUp bool, at time.Time) error {
	var updated bool
	err := s.pool.QueryRow(ctx, `WITH u AS (
			UPDATE passkey_credentials SET sign_count = $1, backed_up = $2, last_used_at = $3
			WHERE id = $4 AND (sign_count < $1 OR (sign_count = 0 AND $1 = 0))
			RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM u) FROM passkey_credentials WHERE id = $4`,
		int64(count), backedUp, at, id).Scan(&updated)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return auth.ErrNotFound
	case err != nil:
		return writeError("use passkey", err)
	case !updated:
		return passkey.ErrCounterRegressed
	}
	return nil
}

// SaveCeremony stores c after pruning a batch of expired ceremonies, in
// one statement.
func (s *Store) SaveCeremony(ctx context.Context, c *passkey.Ceremony, now time.Time) error {
	var userID *int64
	if c.UserID != 0 {
		userID = &c.UserID
	}
	_, err := s.pool.Exec(ctx, `WITH pruned AS (
			DELETE FROM passkey_ceremonies WHERE key IN
				(SELECT key FROM passkey_ceremonies WHERE expires_at < $1 LIMIT $2)),
		superseded AS (
			DELETE FROM passkey_ceremonies WHERE $5 <> '' AND session_id = $5 AND kind = $4)
		INSERT INTO passkey_ceremonies (key, kind, session_id, user_id, name, data, expires_at)
		VALUES ($3, $4, $5, $6, $7, $8, $9)`,
		now, passkey.PruneBatch, c.Key, string(c.Kind), c.SessionID, userID, c.Name, c.Data, c.ExpiresAt)
	if constraintViolation(err, foreignKeyViolation, "passkey_ceremonies_user_id_fkey") {
		return auth.ErrNotFound
	}
	if err != nil {
		return writeError("save ceremony", err)
	}
	return nil
}

// TakeCeremony deletes and returns ceremony key.
func (s *Store) TakeCeremony(ctx context.Context, key string) (*passkey.Ceremony, error) {
	c := passkey.Ceremony{Key: key}
	var kind string
	var userID *int64
	err := s.pool.QueryRow(ctx, `DELETE FROM passkey_ceremonies WHERE key = $1
		RETURNING kind, session_id, user_id, name, data, expires_at`, key).
		Scan(&kind, &c.SessionID, &userID, &c.Name, &c.Data, timeCol{&c.ExpiresAt})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, auth.ErrNotFound
	}
	if err != nil {
		return nil, writeError("take ceremony", err)
	}
	c.Kind = passkey.Kind(kind)
	if userID != nil {
		c.UserID = *userID
	}
	return &c, nil
}
