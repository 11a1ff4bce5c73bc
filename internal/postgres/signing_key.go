package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/keyring"
)

var _ keyring.Store = (*Store)(nil)

const signingKeysQuery = `SELECT id, alg, state, sealed, created_at, activated_at, retired_at
	FROM signing_keys ORDER BY created_at, id`

// SigningKeys returns the key ring's records, oldest first.
func (s *Store) SigningKeys(ctx context.Context) ([]keyring.Record, error) {
	recs, err := scanSigningKeys(ctx, s.pool)
	if err != nil {
		return nil, fmt.Errorf("postgres: signing keys: %w", err)
	}
	return recs, nil
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func scanSigningKeys(ctx context.Context, q querier) ([]keyring.Record, error) {
	rows, err := q.Query(ctx, signingKeysQuery)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (keyring.Record, error) {
		var r keyring.Record
		err := row.Scan(&r.ID, &r.Alg, &r.State, &r.Sealed, timeCol{&r.CreatedAt}, timeCol{&r.ActivatedAt}, timeCol{&r.RetiredAt})
		return r, err
	})
}

// UpdateSigningKeys replaces the ring with fn's answer in one transaction
// that first locks the table against other writers (readers go on), so
// concurrent updates from any node are serialised, not lost.
func (s *Store) UpdateSigningKeys(ctx context.Context, fn func([]keyring.Record) ([]keyring.Record, error)) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE signing_keys IN EXCLUSIVE MODE`); err != nil {
			return err
		}
		recs, err := scanSigningKeys(ctx, tx)
		if err != nil {
			return err
		}
		if recs, err = fn(recs); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM signing_keys`); err != nil {
			return err
		}
		for _, r := range recs {
			_, err := tx.Exec(ctx, `INSERT INTO signing_keys
				(id, alg, state, sealed, created_at, activated_at, retired_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
				r.ID, r.Alg, r.State, r.Sealed, r.CreatedAt, nullTime(r.ActivatedAt), nullTime(r.RetiredAt))
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: update signing keys: %w", err)
	}
	return nil
}
