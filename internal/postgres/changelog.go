package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// ChangeLogKeep is how many entries of the session change log
// PruneSessionChanges keeps, as SQLite's log does: a follower further
// behind than that resyncs (auth.ErrPositionExpired).
const ChangeLogKeep = 100_000

// SessionChanges returns up to limit entries of the change log after
// position after (see auth.ChangeLog). Entries are numbered in commit
// order (the trigger's advisory lock, migrations/0003), so reading past
// the newest committed entry can never skip one that commits later.
func (s *Store) SessionChanges(ctx context.Context, after int64, limit int) ([]auth.SessionChange, error) {
	var out []auth.SessionChange
	// Repeatable read: the bounds and the rows are one snapshot.
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var oldest, newest int64
		if err := tx.QueryRow(ctx, `SELECT coalesce(min(seq), 0), coalesce(max(seq), 0)
			FROM session_changes`).Scan(&oldest, &newest); err != nil {
			return err
		}
		if after != 0 && (after < oldest-1 || after > newest) {
			return auth.ErrPositionExpired
		}
		rows, err := tx.Query(ctx, `SELECT seq, session_id, generation, revoked, rotated_at, access_expires_at
			FROM session_changes WHERE seq > $1 ORDER BY seq LIMIT $2`, after, limit)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (auth.SessionChange, error) {
			var c auth.SessionChange
			err := row.Scan(&c.Seq, &c.SessionID, &c.Generation, &c.Revoked,
				timeCol{&c.RotatedAt}, timeCol{&c.AccessExpiresAt})
			return c, err
		})
		return err
	})
	if errors.Is(err, auth.ErrPositionExpired) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: read session changes: %w", err)
	}
	return out, nil
}

var _ auth.ChangeLogPruner = (*Store)(nil)

// PruneSessionChanges deletes all but the newest ChangeLogKeep entries of
// the change log. Idempotent: every node may run it.
func (s *Store) PruneSessionChanges(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM session_changes
		WHERE seq <= (SELECT max(seq) FROM session_changes) - $1`, ChangeLogKeep)
	if err != nil {
		return fmt.Errorf("postgres: prune session changes: %w", err)
	}
	return nil
}
