package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// LegacySecret returns the secret called name that an earlier version kept
// in the secrets table (the generated signing key), or auth.ErrNotFound.
// Secrets no longer live in the database; this exists to move them out.
func (s *Store) LegacySecret(ctx context.Context, name string) ([]byte, error) {
	var value []byte
	err := s.reader.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&value)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, auth.ErrNotFound
	case err != nil:
		return nil, fmt.Errorf("sqlite: legacy secret %q: %w", name, err)
	}
	return value, nil
}

// DeleteLegacySecret deletes the secret called name, if any, once it has
// been moved out of the database.
func (s *Store) DeleteLegacySecret(ctx context.Context, name string) error {
	if _, err := s.writer.ExecContext(ctx, `DELETE FROM secrets WHERE name = ?`, name); err != nil {
		return fmt.Errorf("sqlite: delete legacy secret %q: %w", name, err)
	}
	return nil
}
