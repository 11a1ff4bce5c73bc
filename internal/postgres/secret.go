package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Secret returns the secret called name, creating it with generate() if it
// does not exist. The first caller to commit wins; everyone else, on any
// node, reads the winner's value, so generate may run more than once but
// only one result is ever returned.
//
// Three plain statements, no transaction: INSERT … ON CONFLICT DO NOTHING
// waits for a concurrent insert of the same name to commit, and the
// SELECT after it, being a new statement, sees that commit. (One statement
// that inserted and read back would not: its snapshot predates the
// winner's commit.)
func (s *Store) Secret(ctx context.Context, name string, generate func() []byte) ([]byte, error) {
	const lookup = `SELECT value FROM secrets WHERE name = $1`
	var value []byte
	err := s.pool.QueryRow(ctx, lookup, name).Scan(&value)
	if err == nil {
		return value, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: secret %q: %w", name, err)
	}

	generated := generate()
	if len(generated) == 0 {
		return nil, fmt.Errorf("postgres: secret %q: generator returned no bytes", name)
	}
	// created_at is informational only, hence the wall clock.
	_, err = s.pool.Exec(ctx, `INSERT INTO secrets (name, value, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO NOTHING`, name, generated, time.Now())
	if err == nil {
		err = s.pool.QueryRow(ctx, lookup, name).Scan(&value)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: secret %q: %w", name, err)
	}
	return value, nil
}
