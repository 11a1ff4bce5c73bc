package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
)

const sessionColumns = `id, user_id, generation, rotated_at, access_expires_at,
	created_at, last_used_at, expires_at, revoked_at, ip, user_agent,
	pending, auth_methods, authenticated_at, authenticated_by,
	imported_access_uid, imported_csrf`

// scanSession reads one row of sessionColumns.
func scanSession(row interface{ Scan(...any) error }, s *auth.Session) error {
	var methods string
	var importedUID sql.NullString
	var importedCSRF []byte
	err := row.Scan(&s.ID, &s.UserID, &s.Generation,
		timeCol{&s.RotatedAt}, timeCol{&s.AccessExpiresAt}, timeCol{&s.CreatedAt},
		timeCol{&s.LastUsedAt}, timeCol{&s.ExpiresAt}, timeCol{&s.RevokedAt},
		&s.IP, &s.UserAgent,
		&s.Pending, &methods, timeCol{&s.AuthenticatedAt}, &s.AuthenticatedBy,
		&importedUID, &importedCSRF)
	s.Methods = auth.ParseMethods(methods)
	s.Imported = nil
	if importedUID.Valid {
		s.Imported = &auth.ImportedSecrets{AccessID: importedUID.String, CSRFSecret: importedCSRF}
	}
	return err
}

// scanReturned scans the one row of an autocommit UPDATE ... RETURNING and
// then steps the statement to its end. QueryRow would stop after the row:
// the statement then commits when it is reset, but SQLite runs its
// automatic WAL checkpoint only when a statement steps to its end, so a
// store whose writes all ended that way never checkpointed and its -wal
// file grew without bound (12 KiB per refresh), until the disk was full.
func scanReturned(rows *sql.Rows, s *auth.Session) error {
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			rows.Close()
			return err
		}
		if err := rows.Close(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := scanSession(rows, s); err != nil {
		rows.Close()
		return err
	}
	for rows.Next() { // there is no second row; this steps to the end
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return err
	}
	return rows.Close()
}

const insertSessionQuery = `INSERT INTO sessions (` + sessionColumns + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// sessionArgs are the values of insertSessionQuery for s.
func sessionArgs(s *auth.Session) []any {
	return []any{s.ID, s.UserID, s.Generation, micros(s.RotatedAt), micros(s.AccessExpiresAt),
		micros(s.CreatedAt), micros(s.LastUsedAt), micros(s.ExpiresAt), nullMicros(s.RevokedAt),
		s.IP, s.UserAgent,
		s.Pending, auth.FormatMethods(s.Methods), nullMicros(s.AuthenticatedAt), string(s.AuthenticatedBy),
		importedUID(s), importedCSRF(s)}
}

// importedUID and importedCSRF are the imported_* column values of s:
// NULL for a session Gatehouse started.
func importedUID(s *auth.Session) any {
	if s.Imported == nil {
		return nil
	}
	return s.Imported.AccessID
}

func importedCSRF(s *auth.Session) any {
	if s.Imported == nil {
		return nil
	}
	return s.Imported.CSRFSecret
}

// insertSessionError translates the error of inserting s: a missing user
// is auth.ErrNotFound.
func insertSessionError(err error, s *auth.Session) error {
	switch {
	case isForeignKeyViolation(err):
		return fmt.Errorf("user %d: %w", s.UserID, auth.ErrNotFound)
	case isUniqueViolation(err):
		return fmt.Errorf("session id %q already exists: %w", s.ID, err)
	}
	return err
}

// insertSession inserts s. A missing user is auth.ErrNotFound.
func insertSession(ctx context.Context, tx *sql.Tx, s *auth.Session) error {
	_, err := tx.ExecContext(ctx, insertSessionQuery, sessionArgs(s)...)
	return insertSessionError(err, s)
}

// sessionInserter inserts the sessions of a bulk load with one prepared
// statement.
type sessionInserter struct {
	ctx  context.Context // bulkRowContext
	stmt *sql.Stmt
}

// newSessionInserter prepares insertSessionQuery followed by onConflict
// ("" to fail on a present id).
func newSessionInserter(ctx context.Context, tx *sql.Tx, onConflict string) (*sessionInserter, error) {
	stmt, err := tx.PrepareContext(ctx, insertSessionQuery+onConflict)
	if err != nil {
		return nil, err
	}
	return &sessionInserter{ctx: bulkRowContext(ctx), stmt: stmt}, nil
}

// insert inserts sess and reports whether it did (an ON CONFLICT clause
// may skip it).
func (i *sessionInserter) insert(sess *auth.Session) (bool, error) {
	n, err := rowsChanged(i.stmt.ExecContext(i.ctx, sessionArgs(sess)...))
	return n > 0, insertSessionError(err, sess)
}

func (i *sessionInserter) close() { i.stmt.Close() }

// ImportSessions inserts sessions exactly as given, in one transaction that
// reuses one prepared INSERT: a bulk load for benchmarks and migrations, so
// deliberately not part of auth.Store. Unlike CreateSession it applies no
// per-user cap and evicts nothing. A missing user (auth.ErrNotFound) or a
// duplicate id fails the whole batch: nothing is inserted. The
// session_changes triggers fire only on UPDATE and DELETE, so an import
// writes no change log: no running server can hold a stale view of a
// session that did not exist.
func (s *Store) ImportSessions(ctx context.Context, sessions []auth.Session) error {
	if len(sessions) == 0 {
		return nil
	}
	err := s.bulkTx(ctx, func(tx *sql.Tx) error {
		insert, err := newSessionInserter(ctx, tx, "")
		if err != nil {
			return err
		}
		defer insert.close()
		for i := range sessions {
			if _, err := insert.insert(&sessions[i]); err != nil {
				return fmt.Errorf("row %d: %w", i, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: import sessions: %w", err)
	}
	return nil
}

// CreateSession inserts s and, if maxPerUser > 0 and the user then has more
// than maxPerUser sessions live at s.CreatedAt, revokes the oldest of the
// others at s.CreatedAt, in the same transaction. It returns the evicted
// ids, oldest first. s itself is never evicted. A missing user is
// auth.ErrNotFound.
func (s *Store) CreateSession(ctx context.Context, sess *auth.Session, maxPerUser int) ([]string, error) {
	var evicted []string
	err := s.batch.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := insertSession(ctx, tx, sess); err != nil {
			return err
		}
		if maxPerUser <= 0 {
			return nil
		}
		var err error
		evicted, err = evictSessions(ctx, tx, sess.UserID, sess.ID, sess.CreatedAt, maxPerUser)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: create session: %w", err)
	}
	return evicted, nil
}

// evictSessions revokes the live, complete sessions of userID other than
// keep beyond the newest maxPerUser-1 (keep takes the last place), at at.
// One statement, driven by the (user_id, created_at) index. Pending
// sign-ins neither count nor are evicted: they end within minutes.
func evictSessions(ctx context.Context, tx *sql.Tx, userID int64, keep string, at time.Time, maxPerUser int) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `UPDATE sessions SET revoked_at = ?
		WHERE id IN (
			SELECT id FROM sessions
			WHERE user_id = ? AND id <> ? AND revoked_at IS NULL AND expires_at > ? AND NOT pending
			ORDER BY created_at DESC, id DESC
			LIMIT -1 OFFSET ?)
		RETURNING id, created_at`,
		micros(at), userID, keep, micros(at), maxPerUser-1)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type victim struct {
		id        string
		createdAt int64
	}
	var victims []victim
	for rows.Next() {
		var v victim
		if err := rows.Scan(&v.id, &v.createdAt); err != nil {
			return nil, err
		}
		victims = append(victims, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(victims) == 0 {
		return nil, nil
	}
	// RETURNING has no defined order.
	slices.SortFunc(victims, func(a, b victim) int {
		return cmp.Or(cmp.Compare(a.createdAt, b.createdAt), cmp.Compare(a.id, b.id))
	})
	ids := make([]string, len(victims))
	for i, v := range victims {
		ids[i] = v.id
	}
	return ids, nil
}

// The prepared statements of the hot path (see Store).
const (
	sessionQuery = `SELECT ` + sessionColumns + ` FROM sessions WHERE id = ?`
	rotateQuery  = `UPDATE sessions
		SET generation = generation + 1, rotated_at = ?, last_used_at = ?, access_expires_at = ?
		WHERE id = ? AND generation = ? AND revoked_at IS NULL
		RETURNING ` + sessionColumns
	revokeQuery = `UPDATE sessions SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`
)

// Session returns session id by primary key, or auth.ErrNotFound.
func (s *Store) Session(ctx context.Context, id string) (*auth.Session, error) {
	var sess auth.Session
	err := scanSession(s.sessionStmt.QueryRowContext(ctx, id), &sess)
	if errors.Is(err, sql.ErrNoRows) {
		err = auth.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: session %q: %w", id, err)
	}
	return &sess, nil
}

// RotateSession is the compare-and-swap of a refresh: one UPDATE that moves
// session id from generation from to from+1 only if it is still there and
// not revoked. Of any number of concurrent callers with the same from,
// exactly one succeeds; the others get auth.ErrConflict. auth.ErrNotFound if
// there is no such session. Expiry is the caller's business.
func (s *Store) RotateSession(ctx context.Context, id string, from int64, at, accessExpiresAt time.Time) (*auth.Session, error) {
	var sess auth.Session
	err := s.batch.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		rows, err := tx.StmtContext(ctx, s.rotateStmt).QueryContext(ctx, micros(at), micros(at), micros(accessExpiresAt), id, from)
		if err != nil {
			return err
		}
		return scanReturned(rows, &sess)
	})
	if errors.Is(err, sql.ErrNoRows) {
		// The losing path: find out why, off the writer and after the
		// batch. A session is only ever deleted with its user, so the
		// answer cannot flip back.
		var exists bool
		err = s.reader.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM sessions WHERE id = ?)`, id).Scan(&exists)
		if err == nil {
			err = auth.ErrNotFound
			if exists {
				err = auth.ErrConflict
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: rotate session %q: %w", id, err)
	}
	return &sess, nil
}

// FinishSession is the compare-and-swap that completes a pending sign-in:
// one UPDATE, like RotateSession's, that also requires the session to be
// pending, then the eviction of CreateSession, in one transaction.
func (s *Store) FinishSession(ctx context.Context, id string, from int64, f auth.SessionFinish, maxPerUser int) (*auth.Session, []string, error) {
	var sess auth.Session
	var evicted []string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		at := micros(f.At)
		by := ""
		if len(f.Methods) > 0 {
			by = string(f.Methods[len(f.Methods)-1])
		}
		rows, err := tx.QueryContext(ctx, `UPDATE sessions
			SET generation = generation + 1, rotated_at = ?, last_used_at = ?, authenticated_at = ?,
				access_expires_at = ?, expires_at = ?, pending = 0, auth_methods = ?, authenticated_by = ?
			WHERE id = ? AND generation = ? AND pending AND revoked_at IS NULL
			RETURNING `+sessionColumns,
			at, at, at, micros(f.AccessExpiresAt), micros(f.ExpiresAt), auth.FormatMethods(f.Methods), by, id, from)
		if err == nil {
			err = scanReturned(rows, &sess)
		}
		if errors.Is(err, sql.ErrNoRows) {
			var exists bool
			err = tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM sessions WHERE id = ?)`, id).Scan(&exists)
			if err == nil {
				err = auth.ErrNotFound
				if exists {
					err = auth.ErrConflict
				}
			}
		}
		if err != nil || maxPerUser <= 0 {
			return err
		}
		evicted, err = evictSessions(ctx, tx, sess.UserID, sess.ID, f.At, maxPerUser)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: finish session %q: %w", id, err)
	}
	return &sess, evicted, nil
}

// SetSessionProof records a step-up of session id, unless it is revoked.
func (s *Store) SetSessionProof(ctx context.Context, id string, at time.Time, m auth.Method) error {
	err := rowsAffected(s.writer.ExecContext(ctx, `UPDATE sessions SET authenticated_at = ?, authenticated_by = ?
		WHERE id = ? AND revoked_at IS NULL`, micros(at), string(m), id))
	if err != nil {
		return fmt.Errorf("sqlite: set proof of session %q: %w", id, err)
	}
	return nil
}

// RevokeSession revokes session id at at; a session already revoked keeps
// its first RevokedAt. auth.ErrNotFound if there is no such session.
func (s *Store) RevokeSession(ctx context.Context, id string, at time.Time) error {
	err := s.batch.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return rowsAffected(tx.StmtContext(ctx, s.revokeStmt).ExecContext(ctx, micros(at), id))
	})
	if err != nil {
		return fmt.Errorf("sqlite: revoke session %q: %w", id, err)
	}
	return nil
}

// RevokeUserSessions revokes, at at, every session of userID that is live at
// at, except the session except (may be empty), and returns their ids in no
// particular order. Sessions already revoked or expired are left alone.
func (s *Store) RevokeUserSessions(ctx context.Context, userID int64, except string, at time.Time) ([]string, error) {
	var ids []string
	err := s.batch.write(ctx, func(ctx context.Context, tx *sql.Tx) (err error) {
		ids, err = queryStrings(ctx, tx, `UPDATE sessions SET revoked_at = ?
			WHERE user_id = ? AND id <> ? AND revoked_at IS NULL AND expires_at > ?
			RETURNING id`,
			micros(at), userID, except, micros(at))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: revoke sessions of user %d: %w", userID, err)
	}
	return ids, nil
}

// ListSessions returns the sessions of userID live at now (not revoked,
// ExpiresAt after now), newest first.
func (s *Store) ListSessions(ctx context.Context, userID int64, now time.Time) ([]auth.Session, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+sessionColumns+` FROM sessions
		WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?
		ORDER BY created_at DESC, id DESC`, userID, micros(now))
	if err != nil {
		return nil, fmt.Errorf("sqlite: list sessions of user %d: %w", userID, err)
	}
	defer rows.Close()
	var sessions []auth.Session
	for rows.Next() {
		var sess auth.Session
		if err := scanSession(rows, &sess); err != nil {
			return nil, fmt.Errorf("sqlite: list sessions of user %d: %w", userID, err)
		}
		sessions = append(sessions, sess)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list sessions of user %d: %w", userID, err)
	}
	return sessions, nil
}

// CountLiveSessions counts the sessions live at now, across all users.
func (s *Store) CountLiveSessions(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM sessions
		WHERE revoked_at IS NULL AND expires_at > ?`, micros(now)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: count live sessions: %w", err)
	}
	return n, nil
}

// DeleteEndedSessions deletes up to limit sessions that expired or were
// revoked before before. Deleting a revoked session announces nothing on
// the change log (migration 0003): its revocation was announced already.
func (s *Store) DeleteEndedSessions(ctx context.Context, before time.Time, limit int) (int64, error) {
	n, err := rowsChanged(s.writer.ExecContext(ctx, `DELETE FROM sessions WHERE id IN (
		SELECT id FROM sessions WHERE expires_at < ? OR revoked_at < ? LIMIT ?)`,
		micros(before), micros(before), limit))
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete ended sessions: %w", err)
	}
	return n, nil
}

// rowsChanged is the number of rows the statement that returned res
// inserted, changed or deleted.
func rowsChanged(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
