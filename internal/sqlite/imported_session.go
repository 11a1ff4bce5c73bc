package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
)

var _ auth.ImportedSessionStore = (*Store)(nil)

// SessionGenerations returns the generation of each of ids present.
func (s *Store) SessionGenerations(ctx context.Context, ids []string) (map[string]int64, error) {
	gens := make(map[string]int64, len(ids))
	err := s.queryJSON(ctx, `SELECT s.id, s.generation FROM json_each(?) AS j CROSS JOIN sessions AS s ON s.id = j.value`, ids,
		func(r *sql.Rows) error {
			var id string
			var gen int64
			err := r.Scan(&id, &gen)
			gens[id] = gen
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("sqlite: session generations: %w", err)
	}
	return gens, nil
}

// ExistingUsers returns which of ids are users.
func (s *Store) ExistingUsers(ctx context.Context, ids []int64) (map[int64]bool, error) {
	known := make(map[int64]bool, len(ids))
	err := s.queryJSON(ctx, `SELECT DISTINCT u.id FROM json_each(?) AS j CROSS JOIN users AS u ON u.id = j.value`, ids,
		func(r *sql.Rows) error {
			var id int64
			err := r.Scan(&id)
			known[id] = true
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("sqlite: existing users: %w", err)
	}
	return known, nil
}

// queryJSON runs query, whose one parameter is values as a JSON array
// (json_each: one parameter however many values, no statement per batch
// size), calling scan for each row. The queries join json_each to the table
// with CROSS JOIN, which SQLite never reorders: left to itself, the planner
// knows nothing of json_each's size and may scan the whole table instead of
// probing its primary key once per value.
func (s *Store) queryJSON(ctx context.Context, query string, values any, scan func(*sql.Rows) error) error {
	arg, err := json.Marshal(values)
	if err != nil {
		return err
	}
	rows, err := s.reader.QueryContext(ctx, query, string(arg))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// PutImportedSecrets stores or replaces the secrets of sessions, in one
// transaction. A session that is absent fails it (foreign key).
func (s *Store) PutImportedSecrets(ctx context.Context, sessions []auth.ImportedSession) error {
	if len(sessions) == 0 {
		return nil
	}
	err := s.bulkTx(ctx, func(tx *sql.Tx) error {
		upsert, err := tx.PrepareContext(ctx, `INSERT INTO imported_sessions (session_id, access_uid, csrf)
			VALUES (?, ?, ?) ON CONFLICT (session_id) DO UPDATE SET access_uid = excluded.access_uid, csrf = excluded.csrf`)
		if err != nil {
			return err
		}
		defer upsert.Close()
		for i := range sessions {
			imp := &sessions[i]
			if _, err := upsert.ExecContext(ctx, imp.Session.ID, imp.AccessID, imp.CSRFSecret); err != nil {
				return fmt.Errorf("session %q: %w", imp.Session.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: put imported secrets: %w", err)
	}
	return nil
}

// ImportedSecrets returns the imported secrets of session id, or
// auth.ErrNotFound.
func (s *Store) ImportedSecrets(ctx context.Context, id string) (*auth.ImportedSecrets, error) {
	var sec auth.ImportedSecrets
	err := s.reader.QueryRowContext(ctx, `SELECT access_uid, csrf FROM imported_sessions WHERE session_id = ?`, id).
		Scan(&sec.AccessID, &sec.CSRFSecret)
	if errors.Is(err, sql.ErrNoRows) {
		err = auth.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: imported secrets of %q: %w", id, err)
	}
	return &sec, nil
}

// PruneImportedSecrets deletes the secrets no session can present any
// more (auth.ImportedSessionStore).
func (s *Store) PruneImportedSecrets(ctx context.Context, now, rotatedBefore time.Time) (int64, error) {
	n, err := rowsDeleted(s.writer.ExecContext(ctx, `DELETE FROM imported_sessions WHERE session_id IN (
		SELECT id FROM sessions WHERE id IN (SELECT session_id FROM imported_sessions)
		AND (revoked_at IS NOT NULL OR expires_at <= ? OR generation > 1 OR generation = 1 AND rotated_at < ?))`,
		micros(now), micros(rotatedBefore)))
	if err != nil {
		return 0, fmt.Errorf("sqlite: prune imported secrets: %w", err)
	}
	return n, nil
}
