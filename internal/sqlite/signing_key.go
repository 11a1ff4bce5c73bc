package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/keyring"
)

var _ keyring.Store = (*Store)(nil)

const signingKeysQuery = `SELECT id, alg, state, sealed, created_at, activated_at, retired_at
	FROM signing_keys ORDER BY created_at, id`

// SigningKeys returns the key ring's records, oldest first.
func (s *Store) SigningKeys(ctx context.Context) ([]keyring.Record, error) {
	recs, err := scanSigningKeys(ctx, s.reader)
	if err != nil {
		return nil, fmt.Errorf("sqlite: signing keys: %w", err)
	}
	return recs, nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func scanSigningKeys(ctx context.Context, q querier) ([]keyring.Record, error) {
	rows, err := q.QueryContext(ctx, signingKeysQuery)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var recs []keyring.Record
	for rows.Next() {
		var r keyring.Record
		err := rows.Scan(&r.ID, &r.Alg, &r.State, &r.Sealed, timeCol{&r.CreatedAt}, timeCol{&r.ActivatedAt}, timeCol{&r.RetiredAt})
		if err != nil {
			return nil, err
		}
		recs = append(recs, r)
	}
	return recs, rows.Err()
}

// UpdateSigningKeys replaces the ring with fn's answer in one IMMEDIATE
// transaction: it holds the write lock from its first read, so updates by
// other processes on the file are serialised, not lost.
func (s *Store) UpdateSigningKeys(ctx context.Context, fn func([]keyring.Record) ([]keyring.Record, error)) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		recs, err := scanSigningKeys(ctx, tx)
		if err != nil {
			return err
		}
		if recs, err = fn(recs); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM signing_keys`); err != nil {
			return err
		}
		for _, r := range recs {
			_, err := tx.ExecContext(ctx, `INSERT INTO signing_keys
				(id, alg, state, sealed, created_at, activated_at, retired_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				r.ID, r.Alg, r.State, r.Sealed, micros(r.CreatedAt), nullMicros(r.ActivatedAt), nullMicros(r.RetiredAt))
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: update signing keys: %w", err)
	}
	return nil
}
