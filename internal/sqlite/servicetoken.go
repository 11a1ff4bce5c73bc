package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// CreateServiceToken inserts t with the hash of its secret and sets t.ID.
func (s *Store) CreateServiceToken(ctx context.Context, t *auth.ServiceToken, hash []byte) error {
	err := s.writer.QueryRowContext(ctx, `INSERT INTO service_tokens (name, hash, created_at)
		VALUES (?, ?, ?) RETURNING id`, t.Name, hash, micros(t.CreatedAt)).Scan(&t.ID)
	if err != nil {
		return fmt.Errorf("sqlite: create service token: %w", err)
	}
	return nil
}

const serviceTokenColumns = `id, name, created_at, revoked_at`

func scanServiceToken(row interface{ Scan(...any) error }, t *auth.ServiceToken) error {
	return row.Scan(&t.ID, &t.Name, timeCol{&t.CreatedAt}, timeCol{&t.RevokedAt})
}

// ServiceTokenByHash returns the token whose secret hashes to hash, or
// auth.ErrNotFound.
func (s *Store) ServiceTokenByHash(ctx context.Context, hash []byte) (*auth.ServiceToken, error) {
	var t auth.ServiceToken
	err := scanServiceToken(s.reader.QueryRowContext(ctx, `SELECT `+serviceTokenColumns+`
		FROM service_tokens WHERE hash = ?`, hash), &t)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, auth.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: service token: %w", err)
	}
	return &t, nil
}

// ListServiceTokens returns every service token by id.
func (s *Store) ListServiceTokens(ctx context.Context) ([]auth.ServiceToken, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+serviceTokenColumns+` FROM service_tokens ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list service tokens: %w", err)
	}
	out, err := collect(rows, []auth.ServiceToken(nil), scanServiceToken)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list service tokens: %w", err)
	}
	return out, nil
}

// RevokeServiceToken revokes token id at at, keeping an earlier revocation.
func (s *Store) RevokeServiceToken(ctx context.Context, id int64, at time.Time) error {
	err := rowsAffected(s.writer.ExecContext(ctx, `UPDATE service_tokens
		SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, micros(at), id))
	if err != nil {
		return fmt.Errorf("sqlite: revoke service token %d: %w", id, err)
	}
	return nil
}
