package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/auth"
)

var _ auth.ImportedSessionStore = (*Store)(nil)

// SessionGenerations returns the generation of each of ids present.
func (s *Store) SessionGenerations(ctx context.Context, ids []string) (map[string]int64, error) {
	rows, _ := s.pool.Query(ctx, `SELECT id, generation FROM sessions WHERE id = ANY($1)`, ids)
	gens := make(map[string]int64, len(ids))
	var id string
	var gen int64
	_, err := pgx.ForEachRow(rows, []any{&id, &gen}, func() error { gens[id] = gen; return nil })
	if err != nil {
		return nil, fmt.Errorf("postgres: session generations: %w", err)
	}
	return gens, nil
}

// ExistingUsers returns which of ids are users.
func (s *Store) ExistingUsers(ctx context.Context, ids []int64) (map[int64]bool, error) {
	rows, _ := s.pool.Query(ctx, `SELECT id FROM users WHERE id = ANY($1)`, ids)
	known := make(map[int64]bool, len(ids))
	var id int64
	_, err := pgx.ForEachRow(rows, []any{&id}, func() error { known[id] = true; return nil })
	if err != nil {
		return nil, fmt.Errorf("postgres: existing users: %w", err)
	}
	return known, nil
}

// PutImportedSecrets stores or replaces the secrets of sessions in one
// statement. A session that is absent fails it (foreign key).
func (s *Store) PutImportedSecrets(ctx context.Context, sessions []auth.ImportedSession) error {
	if len(sessions) == 0 {
		return nil
	}
	ids, uids, csrfs := make([]string, len(sessions)), make([]string, len(sessions)), make([][]byte, len(sessions))
	for i := range sessions {
		ids[i], uids[i], csrfs[i] = sessions[i].Session.ID, sessions[i].AccessID, sessions[i].CSRFSecret
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO imported_sessions (session_id, access_uid, csrf)
		SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[])
		ON CONFLICT (session_id) DO UPDATE SET access_uid = excluded.access_uid, csrf = excluded.csrf`, ids, uids, csrfs)
	if err != nil {
		return writeError("put imported secrets", err)
	}
	return nil
}

// ImportedSecrets returns the imported secrets of session id, or
// auth.ErrNotFound.
func (s *Store) ImportedSecrets(ctx context.Context, id string) (*auth.ImportedSecrets, error) {
	var sec auth.ImportedSecrets
	err := s.pool.QueryRow(ctx, `SELECT access_uid, csrf FROM imported_sessions WHERE session_id = $1`, id).
		Scan(&sec.AccessID, &sec.CSRFSecret)
	if errors.Is(err, pgx.ErrNoRows) {
		err = auth.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: imported secrets of %q: %w", id, err)
	}
	return &sec, nil
}

// PruneImportedSecrets deletes the secrets no session can present any
// more (auth.ImportedSessionStore).
func (s *Store) PruneImportedSecrets(ctx context.Context, now, rotatedBefore time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM imported_sessions i USING sessions s
		WHERE s.id = i.session_id
		AND (s.revoked_at IS NOT NULL OR s.expires_at <= $1 OR s.generation > 1 OR s.generation = 1 AND s.rotated_at < $2)`,
		now, rotatedBefore)
	if err != nil {
		return 0, fmt.Errorf("postgres: prune imported secrets: %w", err)
	}
	return tag.RowsAffected(), nil
}
