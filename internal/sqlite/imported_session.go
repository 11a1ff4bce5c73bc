package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/auth"
)

var _ auth.ImportedSessionStore = (*Store)(nil)

// MergeImportedSessions stores batch in one transaction
// (auth.ImportedSessionStore): its look-ups, inserts and replaced secrets
// share one commit, and the look-ups see exactly what the writes change.
func (s *Store) MergeImportedSessions(ctx context.Context, batch []auth.Session) ([]auth.SessionImportOutcome, error) {
	outcomes := make([]auth.SessionImportOutcome, len(batch))
	if len(batch) == 0 {
		return outcomes, nil
	}
	err := s.bulkTx(ctx, func(tx *sql.Tx) error {
		gens, known, err := importLookups(ctx, tx, batch)
		if err != nil {
			return err
		}
		insert, err := newSessionInserter(ctx, tx)
		if err != nil {
			return err
		}
		defer insert.close()
		// Replaces the secrets only if they differ: a re-run that finds
		// them unchanged reads the row and writes nothing.
		replace, err := tx.PrepareContext(ctx, `UPDATE sessions SET imported_access_uid = ?1, imported_csrf = ?2
			WHERE id = ?3 AND generation = 0 AND (imported_access_uid IS NOT ?1 OR imported_csrf IS NOT ?2)`)
		if err != nil {
			return err
		}
		defer replace.Close()
		rowCtx := bulkRowContext(ctx)
		for i := range batch {
			sess := &batch[i]
			gen, present := gens[sess.ID]
			switch {
			case present:
				outcomes[i] = auth.SessionPresent
				if gen == 0 {
					if _, err := replace.ExecContext(rowCtx, importedUID(sess), importedCSRF(sess), sess.ID); err != nil {
						return fmt.Errorf("session %q: %w", sess.ID, err)
					}
				}
			case !known[sess.UserID]:
				outcomes[i] = auth.SessionUserUnknown
			default:
				if err := insert.insert(sess); err != nil {
					return fmt.Errorf("session %q: %w", sess.ID, err)
				}
				outcomes[i] = auth.SessionInserted
				gens[sess.ID] = sess.Generation // a repeat later in the batch is present
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: merge imported sessions: %w", err)
	}
	return outcomes, nil
}

// importLookups returns the generation of each session of batch that is
// present, and which of its users exist.
func importLookups(ctx context.Context, tx *sql.Tx, batch []auth.Session) (map[string]int64, map[int64]bool, error) {
	ids := make([]string, len(batch))
	users := make([]int64, len(batch))
	for i := range batch {
		ids[i], users[i] = batch[i].ID, batch[i].UserID
	}
	gens := make(map[string]int64, len(ids))
	err := queryJSON(ctx, tx, `SELECT s.id, s.generation FROM json_each(?) AS j CROSS JOIN sessions AS s ON s.id = j.value`, ids,
		func(r *sql.Rows) error {
			var id string
			var gen int64
			err := r.Scan(&id, &gen)
			gens[id] = gen
			return err
		})
	if err != nil {
		return nil, nil, fmt.Errorf("session generations: %w", err)
	}
	known := make(map[int64]bool)
	err = queryJSON(ctx, tx, `SELECT DISTINCT u.id FROM json_each(?) AS j CROSS JOIN users AS u ON u.id = j.value`, users,
		func(r *sql.Rows) error {
			var id int64
			err := r.Scan(&id)
			known[id] = true
			return err
		})
	if err != nil {
		return nil, nil, fmt.Errorf("existing users: %w", err)
	}
	return gens, known, nil
}

// queryJSON runs query, whose one parameter is values as a JSON array
// (json_each: one parameter however many values, no statement per batch
// size), calling scan for each row. The queries join json_each to the table
// with CROSS JOIN, which SQLite never reorders: left to itself, the planner
// knows nothing of json_each's size and may scan the whole table instead of
// probing its primary key once per value.
func queryJSON(ctx context.Context, tx *sql.Tx, query string, values any, scan func(*sql.Rows) error) error {
	arg, err := json.Marshal(values)
	if err != nil {
		return err
	}
	rows, err := tx.QueryContext(ctx, query, string(arg))
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

// ImportedSecrets returns the imported secrets of session id, or
// auth.ErrNotFound.
func (s *Store) ImportedSecrets(ctx context.Context, id string) (*auth.ImportedSecrets, error) {
	var sec auth.ImportedSecrets
	err := s.reader.QueryRowContext(ctx, `SELECT imported_access_uid, imported_csrf FROM sessions
		WHERE id = ? AND imported_access_uid IS NOT NULL`, id).Scan(&sec.AccessID, &sec.CSRFSecret)
	if errors.Is(err, sql.ErrNoRows) {
		err = auth.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: imported secrets of %q: %w", id, err)
	}
	return &sec, nil
}
