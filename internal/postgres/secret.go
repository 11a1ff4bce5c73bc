package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// LegacySecret returns the secret called name that an earlier version kept
// in the secrets table (the generated signing key), or auth.ErrNotFound.
// Secrets no longer live in the database; this exists to move them out.
func (s *Store) LegacySecret(ctx context.Context, name string) ([]byte, error) {
	var value []byte
	err := s.pool.QueryRow(ctx, `SELECT value FROM secrets WHERE name = $1`, name).Scan(&value)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, auth.ErrNotFound
	case err != nil:
		return nil, fmt.Errorf("postgres: legacy secret %q: %w", name, err)
	}
	return value, nil
}

// DeleteLegacySecret deletes the secret called name, if any, once it has
// been moved out of the database.
func (s *Store) DeleteLegacySecret(ctx context.Context, name string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM secrets WHERE name = $1`, name); err != nil {
		return fmt.Errorf("postgres: delete legacy secret %q: %w", name, err)
	}
	return nil
}
