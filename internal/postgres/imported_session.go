package postgres

import (
	"bytes"
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/auth"
)

var _ auth.ImportedSessionStore = (*Store)(nil)

// MergeImportedSessions stores batch in one transaction
// (auth.ImportedSessionStore): two look-ups, one COPY of the sessions not
// present, one UPDATE of the secrets of those at generation 0.
func (s *Store) MergeImportedSessions(ctx context.Context, batch []auth.Session) ([]auth.SessionImportOutcome, error) {
	outcomes := make([]auth.SessionImportOutcome, len(batch))
	if len(batch) == 0 {
		return outcomes, nil
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		gens, known, err := importLookups(ctx, tx, batch)
		if err != nil {
			return err
		}
		var fresh []auth.Session
		// The secrets to replace, by id: the last row of an id wins, as
		// if the rows were stored one after the other.
		replace := make(map[string]*auth.ImportedSecrets)
		for i := range batch {
			sess := &batch[i]
			gen, present := gens[sess.ID]
			switch {
			case present:
				outcomes[i] = auth.SessionPresent
				if gen == 0 {
					replace[sess.ID] = sess.Imported
				}
			case !known[sess.UserID]:
				outcomes[i] = auth.SessionUserUnknown
			default:
				outcomes[i] = auth.SessionInserted
				fresh = append(fresh, *sess)
				gens[sess.ID] = sess.Generation // a repeat later in the batch is present
			}
		}
		if err := copySessions(ctx, tx, fresh); err != nil {
			return err
		}
		return replaceImportedSecrets(ctx, tx, replace)
	})
	if err != nil {
		return nil, writeError("merge imported sessions", err)
	}
	return outcomes, nil
}

// importLookups returns the generation of each session of batch that is
// present, and which of its users exist.
func importLookups(ctx context.Context, tx pgx.Tx, batch []auth.Session) (map[string]int64, map[int64]bool, error) {
	ids := make([]string, len(batch))
	users := make([]int64, len(batch))
	for i := range batch {
		ids[i], users[i] = batch[i].ID, batch[i].UserID
	}
	rows, _ := tx.Query(ctx, `SELECT id, generation FROM sessions WHERE id = ANY($1)`, ids)
	gens := make(map[string]int64, len(ids))
	var id string
	var gen int64
	if _, err := pgx.ForEachRow(rows, []any{&id, &gen}, func() error { gens[id] = gen; return nil }); err != nil {
		return nil, nil, fmt.Errorf("session generations: %w", err)
	}
	rows, _ = tx.Query(ctx, `SELECT id FROM users WHERE id = ANY($1)`, users)
	known := make(map[int64]bool)
	var userID int64
	if _, err := pgx.ForEachRow(rows, []any{&userID}, func() error { known[userID] = true; return nil }); err != nil {
		return nil, nil, fmt.Errorf("existing users: %w", err)
	}
	return gens, known, nil
}

// replaceImportedSecrets sets the imported secrets of sessions still at
// generation 0, writing only the rows whose secrets differ.
func replaceImportedSecrets(ctx context.Context, tx pgx.Tx, secrets map[string]*auth.ImportedSecrets) error {
	if len(secrets) == 0 {
		return nil
	}
	ids, uids, csrfs := make([]string, 0, len(secrets)), make([]string, 0, len(secrets)), make([][]byte, 0, len(secrets))
	for id, sec := range secrets {
		ids, uids, csrfs = append(ids, id), append(uids, sec.AccessID), append(csrfs, sec.CSRFSecret)
	}
	_, err := tx.Exec(ctx, `UPDATE sessions s SET imported_access_uid = n.uid, imported_csrf = n.csrf
		FROM unnest($1::text[], $2::text[], $3::bytea[]) AS n (id, uid, csrf)
		WHERE s.id = n.id AND s.generation = 0
		AND (s.imported_access_uid IS DISTINCT FROM n.uid OR s.imported_csrf IS DISTINCT FROM n.csrf)`, ids, uids, csrfs)
	if err != nil {
		return fmt.Errorf("replace imported secrets: %w", err)
	}
	return nil
}

// ImportedSecrets returns the imported secrets of those of ids that have
// any, in one query.
func (s *Store) ImportedSecrets(ctx context.Context, ids []string) (map[string]*auth.ImportedSecrets, error) {
	rows, _ := s.pool.Query(ctx, `SELECT id, imported_access_uid, imported_csrf FROM sessions
		WHERE id = ANY($1) AND imported_access_uid IS NOT NULL`, ids)
	out := make(map[string]*auth.ImportedSecrets)
	var id string
	var sec auth.ImportedSecrets
	_, err := pgx.ForEachRow(rows, []any{&id, &sec.AccessID, &sec.CSRFSecret}, func() error {
		// The scan may reuse sec's buffer for the next row.
		out[id] = &auth.ImportedSecrets{AccessID: sec.AccessID, CSRFSecret: bytes.Clone(sec.CSRFSecret)}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: imported secrets: %w", err)
	}
	return out, nil
}
