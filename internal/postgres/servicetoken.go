package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// CreateServiceToken inserts t with the hash of its secret and sets t.ID.
func (s *Store) CreateServiceToken(ctx context.Context, t *auth.ServiceToken, hash []byte) error {
	err := s.pool.QueryRow(ctx, `INSERT INTO service_tokens (name, hash, created_at)
		VALUES ($1, $2, $3) RETURNING id`, t.Name, hash, t.CreatedAt).Scan(&t.ID)
	if err != nil {
		return writeError("create service token", err)
	}
	return nil
}

const serviceTokenColumns = `id, name, created_at, revoked_at`

func scanServiceToken(row pgx.Row, t *auth.ServiceToken) error {
	return row.Scan(&t.ID, &t.Name, timeCol{&t.CreatedAt}, timeCol{&t.RevokedAt})
}

// ServiceTokenByHash returns the token whose secret hashes to hash, or
// auth.ErrNotFound.
func (s *Store) ServiceTokenByHash(ctx context.Context, hash []byte) (*auth.ServiceToken, error) {
	var t auth.ServiceToken
	err := scanServiceToken(s.pool.QueryRow(ctx, `SELECT `+serviceTokenColumns+`
		FROM service_tokens WHERE hash = $1`, hash), &t)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, auth.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: service token: %w", err)
	}
	return &t, nil
}

// ListServiceTokens returns every service token by id.
func (s *Store) ListServiceTokens(ctx context.Context) ([]auth.ServiceToken, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+serviceTokenColumns+` FROM service_tokens ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list service tokens: %w", err)
	}
	out, err := pgx.CollectRows(rows, rowTo(scanServiceToken))
	if err != nil {
		return nil, fmt.Errorf("postgres: list service tokens: %w", err)
	}
	return out, nil
}

// RevokeServiceToken revokes token id at at, keeping an earlier revocation.
func (s *Store) RevokeServiceToken(ctx context.Context, id int64, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE service_tokens
		SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1`, id, at)
	if err == nil && tag.RowsAffected() == 0 {
		err = auth.ErrNotFound
	}
	if err != nil {
		return writeError(fmt.Sprintf("revoke service token %d", id), err)
	}
	return nil
}
