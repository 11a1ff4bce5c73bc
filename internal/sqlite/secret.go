package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Secret returns the secret called name, creating it with generate() if it
// does not exist. The first caller to commit wins; everyone else, in this
// process or another one on the same file, reads the winner's value, so
// generate may run more than once but only one result is ever returned.
func (s *Store) Secret(ctx context.Context, name string, generate func() []byte) ([]byte, error) {
	var value []byte
	err := s.reader.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&value)
	if err == nil {
		return value, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: secret %q: %w", name, err)
	}

	generated := generate()
	if len(generated) == 0 {
		return nil, fmt.Errorf("sqlite: secret %q: generator returned no bytes", name)
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		// created_at is informational only, hence the wall clock.
		_, err := tx.ExecContext(ctx, `INSERT INTO secrets (name, value, created_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO NOTHING`, name, generated, time.Now().UnixMicro())
		if err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&value)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: secret %q: %w", name, err)
	}
	return value, nil
}
