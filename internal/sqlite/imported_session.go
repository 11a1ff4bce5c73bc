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
// (auth.ImportedSessionStore) with two statements per session and no
// look-ups: an INSERT that does nothing if the id is present, and for a
// present one an UPDATE of its secrets that does nothing past generation 0.
// A missing user fails only its own INSERT (SQLite checks the foreign key
// per statement and rolls back only that statement).
func (s *Store) MergeImportedSessions(ctx context.Context, batch []auth.Session) ([]auth.SessionImportOutcome, error) {
	outcomes := make([]auth.SessionImportOutcome, len(batch))
	if len(batch) == 0 {
		return outcomes, nil
	}
	err := s.bulkTx(ctx, func(tx *sql.Tx) error {
		insert, err := newSessionInserter(ctx, tx, ` ON CONFLICT (id) DO NOTHING`)
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
			inserted, err := insert.insert(sess)
			switch {
			case errors.Is(err, auth.ErrNotFound): // its user (insertSessionError)
				outcomes[i] = auth.SessionUserUnknown
			case err != nil:
				return fmt.Errorf("session %q: %w", sess.ID, err)
			case inserted:
				outcomes[i] = auth.SessionInserted
			default:
				outcomes[i] = auth.SessionPresent
				if _, err := replace.ExecContext(rowCtx, importedUID(sess), importedCSRF(sess), sess.ID); err != nil {
					return fmt.Errorf("session %q: %w", sess.ID, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: merge imported sessions: %w", err)
	}
	return outcomes, nil
}

// ImportedSecrets returns the imported secrets of those of ids that have
// any, in one query (json_each: one parameter however many ids; CROSS JOIN
// so that SQLite probes the primary key once per id instead of scanning).
func (s *Store) ImportedSecrets(ctx context.Context, ids []string) (map[string]*auth.ImportedSecrets, error) {
	arg, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	rows, err := s.reader.QueryContext(ctx, `SELECT s.id, s.imported_access_uid, s.imported_csrf
		FROM json_each(?) AS j CROSS JOIN sessions AS s ON s.id = j.value
		WHERE s.imported_access_uid IS NOT NULL`, string(arg))
	if err != nil {
		return nil, fmt.Errorf("sqlite: imported secrets: %w", err)
	}
	defer rows.Close()
	out := make(map[string]*auth.ImportedSecrets)
	for rows.Next() {
		var id string
		var sec auth.ImportedSecrets
		if err := rows.Scan(&id, &sec.AccessID, &sec.CSRFSecret); err != nil {
			return nil, fmt.Errorf("sqlite: imported secrets: %w", err)
		}
		out[id] = &sec
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: imported secrets: %w", err)
	}
	return out, nil
}
