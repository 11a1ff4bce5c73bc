package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse/gatehouse/internal/auth"
)

const sessionColumns = `id, user_id, generation, rotated_at, access_expires_at,
	created_at, last_used_at, expires_at, revoked_at, ip, user_agent,
	pending, auth_methods, authenticated_at, authenticated_by,
	imported_access_uid, imported_csrf`

// scanSession reads one row of sessionColumns; extra columns (pg_notify's
// void) are skipped.
func scanSession(row pgx.Row, s *auth.Session, extra ...any) error {
	var methods, by string
	var importedUID *string
	var importedCSRF []byte
	err := row.Scan(append([]any{&s.ID, &s.UserID, &s.Generation,
		timeCol{&s.RotatedAt}, timeCol{&s.AccessExpiresAt}, timeCol{&s.CreatedAt},
		timeCol{&s.LastUsedAt}, timeCol{&s.ExpiresAt}, timeCol{&s.RevokedAt},
		&s.IP, &s.UserAgent,
		&s.Pending, &methods, timeCol{&s.AuthenticatedAt}, &by,
		&importedUID, &importedCSRF}, extra...)...)
	s.Methods, s.AuthenticatedBy = auth.ParseMethods(methods), auth.Method(by)
	s.Imported = nil
	if importedUID != nil {
		s.Imported = &auth.ImportedSecrets{AccessID: *importedUID, CSRFSecret: importedCSRF}
	}
	return err
}

// sessionValues are the values of sessionColumns for s.
func sessionValues(s *auth.Session) []any {
	uid, csrf := importedValues(s)
	return []any{s.ID, s.UserID, s.Generation, s.RotatedAt, s.AccessExpiresAt,
		s.CreatedAt, s.LastUsedAt, s.ExpiresAt, nullTime(s.RevokedAt),
		s.IP, s.UserAgent,
		s.Pending, auth.FormatMethods(s.Methods), nullTime(s.AuthenticatedAt), string(s.AuthenticatedBy),
		uid, csrf}
}

// importedValues are the imported_* column values of s: NULL for a session
// Gatehouse started.
func importedValues(s *auth.Session) (uid *string, csrf []byte) {
	if s.Imported == nil {
		return nil, nil
	}
	return &s.Imported.AccessID, s.Imported.CSRFSecret
}

const insertSessionQuery = `INSERT INTO sessions (` + sessionColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`

// insertSession inserts s. A missing user is auth.ErrNotFound.
// q is the pool or a transaction.
func insertSession(ctx context.Context, q interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, s *auth.Session) error {
	_, err := q.Exec(ctx, insertSessionQuery, sessionValues(s)...)
	return insertSessionError(err, s)
}

// insertSessionError translates the error of inserting s: a missing user
// is auth.ErrNotFound.
func insertSessionError(err error, s *auth.Session) error {
	if constraintViolation(err, foreignKeyViolation, "sessions_user_id_fkey") {
		return fmt.Errorf("user %d: %w", s.UserID, auth.ErrNotFound)
	}
	return err
}

// ImportSessions inserts sessions exactly as given: a bulk load for
// benchmarks and migrations, so deliberately not part of auth.Store.
// Unlike CreateSession it applies no per-user cap and evicts nothing, and
// announces nothing on the change feed (no node can have cached a session
// that did not exist). A missing user (auth.ErrNotFound) or a duplicate id
// fails the whole batch: the rows travel in one COPY, a single statement
// and so a single transaction, and nothing is inserted.
func (s *Store) ImportSessions(ctx context.Context, sessions []auth.Session) error {
	if err := copySessions(ctx, s.pool, sessions); err != nil {
		return fmt.Errorf("postgres: import sessions: %w", err)
	}
	return nil
}

// copySessions inserts sessions with one COPY. q is the pool or a
// transaction.
func copySessions(ctx context.Context, q interface {
	CopyFrom(context.Context, pgx.Identifier, []string, pgx.CopyFromSource) (int64, error)
}, sessions []auth.Session) error {
	if len(sessions) == 0 {
		return nil
	}
	columns := strings.Fields(strings.ReplaceAll(sessionColumns, ",", " "))
	_, err := q.CopyFrom(ctx, pgx.Identifier{"sessions"}, columns,
		pgx.CopyFromSlice(len(sessions), func(i int) ([]any, error) { return sessionValues(&sessions[i]), nil }))
	var pgErr *pgconn.PgError
	if constraintViolation(err, foreignKeyViolation, "sessions_user_id_fkey") && errors.As(err, &pgErr) {
		// COPY names no row, but the detail names the user id.
		err = fmt.Errorf("%s: %w", strings.TrimSuffix(pgErr.Detail, "."), auth.ErrNotFound)
	}
	return err
}

// CreateSession inserts s and, if maxPerUser > 0 and the user then has
// more than maxPerUser sessions live at s.CreatedAt, revokes the oldest of
// the others at s.CreatedAt, in the same transaction, announcing each on
// the change feed. It returns the evicted ids, oldest first. s itself is
// never evicted. A missing user is auth.ErrNotFound.
//
// With a cap, the transaction first locks the user's row (the lock order
// of RevokeUserSessions), so concurrent sign-ins of one user, on any
// nodes, take turns and each sees the sessions the others committed: the
// cap holds exactly. The three statements travel as one pipelined batch:
// one round trip, and one transaction, the implicit one that a batch's
// single Sync closes. Each still takes its own snapshot (read committed),
// so the eviction sees what the sign-ins it waited for committed. Without
// a cap it is a single INSERT.
func (s *Store) CreateSession(ctx context.Context, sess *auth.Session, maxPerUser int) ([]string, error) {
	if maxPerUser <= 0 {
		if err := insertSession(ctx, s.pool, sess); err != nil {
			return nil, writeError("create session", err)
		}
		return nil, nil
	}
	b := &pgx.Batch{}
	// A missing user locks nothing, and the INSERT's foreign key says so.
	b.Queue(`SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE`, sess.UserID)
	b.Queue(insertSessionQuery, sessionValues(sess)...)
	b.Queue(evictQuery, sess.UserID, sess.ID, sess.CreatedAt, maxPerUser-1)
	br := s.pool.SendBatch(ctx, b)
	_, err := br.Exec()
	if err == nil {
		_, err = br.Exec()
		err = insertSessionError(err, sess)
	}
	var evicted []string
	if err == nil {
		var rows pgx.Rows
		if rows, err = br.Query(); err == nil {
			evicted, err = collectIDs(rows)
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, writeError("create session", err)
	}
	return evicted, nil
}

// evictQuery revokes the live, complete sessions of user $1 other than $2
// beyond the newest $4 (the new session takes the last place), at $3,
// oldest first, in one statement driven by the (user_id, created_at)
// index. Pending sign-ins neither count nor are evicted: they end within
// minutes. "revoked_at IS NULL" is checked again in the UPDATE so that a
// session revoked concurrently keeps its first revocation time and is not
// reported twice. The caller holds the user's row lock.
const evictQuery = `WITH victims AS (
		SELECT id FROM sessions
		WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL AND expires_at > $3 AND NOT pending
		ORDER BY created_at DESC, id DESC
		OFFSET $4),
	revoked AS (
		UPDATE sessions s SET revoked_at = $3
		FROM victims v
		WHERE s.id = v.id AND s.revoked_at IS NULL
		RETURNING s.id, s.generation, s.created_at)
	SELECT id, ` + notifyRevoked + ` FROM revoked ORDER BY created_at, id`

// evictSessions runs evictQuery in tx for a session keep of userID
// created at at, under a cap of maxPerUser.
func evictSessions(ctx context.Context, tx pgx.Tx, userID int64, keep string, at time.Time, maxPerUser int) ([]string, error) {
	rows, err := tx.Query(ctx, evictQuery, userID, keep, at, maxPerUser-1)
	if err != nil {
		return nil, err
	}
	return collectIDs(rows)
}

// Session returns session id by primary key, or auth.ErrNotFound.
func (s *Store) Session(ctx context.Context, id string) (*auth.Session, error) {
	var sess auth.Session
	err := scanSession(s.pool.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = $1`, id), &sess)
	if errors.Is(err, pgx.ErrNoRows) {
		err = auth.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: session %q: %w", id, err)
	}
	return &sess, nil
}

// RotateSession is the compare-and-swap of a refresh: one UPDATE that moves
// session id from generation from to from+1 only if it is still there and
// not revoked, and announces the new generation on the change feed. Of any
// number of concurrent callers with the same from, on any nodes, exactly
// one succeeds: the others wait for its row lock, re-check the WHERE clause
// against the row it left, and get auth.ErrConflict. auth.ErrNotFound if
// there is no such session. Expiry is the caller's business.
func (s *Store) RotateSession(ctx context.Context, id string, from int64, at, accessExpiresAt time.Time) (*auth.Session, error) {
	var sess auth.Session
	err := scanSession(s.pool.QueryRow(ctx, `WITH rotated AS (
			UPDATE sessions
			SET generation = generation + 1, rotated_at = $3, last_used_at = $3, access_expires_at = $4
			WHERE id = $1 AND generation = $2 AND revoked_at IS NULL
			RETURNING `+sessionColumns+`)
		SELECT `+sessionColumns+`, `+notifyRotated+` FROM rotated`,
		id, from, at, accessExpiresAt), &sess, nil)
	if errors.Is(err, pgx.ErrNoRows) {
		// The losing path: find out why. A session is only ever deleted
		// with its user, so the answer cannot flip back.
		var exists bool
		err = s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM sessions WHERE id = $1)`, id).Scan(&exists)
		if err == nil {
			err = auth.ErrNotFound
			if exists {
				err = auth.ErrConflict
			}
		}
	}
	if err != nil {
		return nil, writeError(fmt.Sprintf("rotate session %q", id), err)
	}
	return &sess, nil
}

// FinishSession is the compare-and-swap that completes a pending sign-in:
// RotateSession's UPDATE that also requires the session to be pending,
// announced on the change feed, then CreateSession's eviction, in one
// transaction that locks the user's row first (the lock order of every
// multi-session write).
func (s *Store) FinishSession(ctx context.Context, id string, from int64, f auth.SessionFinish, maxPerUser int) (*auth.Session, []string, error) {
	var sess auth.Session
	var evicted []string
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var userID int64
		err := tx.QueryRow(ctx, `SELECT user_id FROM sessions WHERE id = $1`, id).Scan(&userID)
		if errors.Is(err, pgx.ErrNoRows) {
			return auth.ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT FROM users WHERE id = $1 FOR NO KEY UPDATE`, userID); err != nil {
			return err
		}
		by := ""
		if len(f.Methods) > 0 {
			by = string(f.Methods[len(f.Methods)-1])
		}
		err = scanSession(tx.QueryRow(ctx, `WITH finished AS (
				UPDATE sessions
				SET generation = generation + 1, rotated_at = $3, last_used_at = $3, authenticated_at = $3,
					access_expires_at = $4, expires_at = $5, pending = false, auth_methods = $6, authenticated_by = $7
				WHERE id = $1 AND generation = $2 AND pending AND revoked_at IS NULL
				RETURNING `+sessionColumns+`)
			SELECT `+sessionColumns+`, `+notifyRotated+` FROM finished`,
			id, from, f.At, f.AccessExpiresAt, f.ExpiresAt, auth.FormatMethods(f.Methods), by), &sess, nil)
		if errors.Is(err, pgx.ErrNoRows) {
			return auth.ErrConflict // it exists: the first read found it
		}
		if err != nil || maxPerUser <= 0 {
			return err
		}
		evicted, err = evictSessions(ctx, tx, userID, id, f.At, maxPerUser)
		return err
	})
	if err != nil {
		return nil, nil, writeError(fmt.Sprintf("finish session %q", id), err)
	}
	return &sess, evicted, nil
}

// SetSessionProof records a step-up of session id, unless it is revoked.
// It announces nothing: the tokens and the AAL stay as they were.
func (s *Store) SetSessionProof(ctx context.Context, id string, at time.Time, m auth.Method) error {
	tag, err := s.pool.Exec(ctx, `UPDATE sessions SET authenticated_at = $2, authenticated_by = $3
		WHERE id = $1 AND revoked_at IS NULL`, id, at, string(m))
	if err == nil && tag.RowsAffected() == 0 {
		err = auth.ErrNotFound
	}
	if err != nil {
		return writeError(fmt.Sprintf("set proof of session %q", id), err)
	}
	return nil
}

// RevokeSession revokes session id at at; a session already revoked keeps
// its first RevokedAt. Either way the revocation is announced on the
// change feed (again, for one already revoked: receivers treat it as the
// no-op it is). auth.ErrNotFound if there is no such session.
func (s *Store) RevokeSession(ctx context.Context, id string, at time.Time) error {
	rows, err := s.pool.Query(ctx, `WITH revoked AS (
			UPDATE sessions SET revoked_at = COALESCE(revoked_at, $2)
			WHERE id = $1
			RETURNING id, generation)
		SELECT id, `+notifyRevoked+` FROM revoked`, id, at)
	var ids []string
	if err == nil {
		ids, err = collectIDs(rows)
	}
	if err == nil && len(ids) == 0 {
		err = auth.ErrNotFound
	}
	if err != nil {
		return writeError(fmt.Sprintf("revoke session %q", id), err)
	}
	return nil
}

// RevokeUserSessions revokes, at at, every session of userID that is live
// at at, except the session except (may be empty), announces each on the
// change feed, and returns their ids in no particular order. Sessions
// already revoked or expired are left alone.
//
// Every write that touches several sessions of a user (this, the eviction
// in CreateSession, DeleteUser) first locks the user's row. One lock order,
// user then sessions, so two of them can never deadlock on each other's
// session rows; they take turns instead.
func (s *Store) RevokeUserSessions(ctx context.Context, userID int64, except string, at time.Time) ([]string, error) {
	var ids []string
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// No such user: no sessions either, and nothing to lock.
		if _, err := tx.Exec(ctx, `SELECT FROM users WHERE id = $1 FOR NO KEY UPDATE`, userID); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `WITH revoked AS (
				UPDATE sessions SET revoked_at = $3
				WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL AND expires_at > $3
				RETURNING id, generation)
			SELECT id, `+notifyRevoked+` FROM revoked`, userID, except, at)
		if err != nil {
			return err
		}
		ids, err = collectIDs(rows)
		return err
	})
	if err != nil {
		return nil, writeError(fmt.Sprintf("revoke sessions of user %d", userID), err)
	}
	return ids, nil
}

// ListSessions returns the sessions of userID live at now (not revoked,
// ExpiresAt after now), newest first.
func (s *Store) ListSessions(ctx context.Context, userID int64, now time.Time) ([]auth.Session, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+sessionColumns+` FROM sessions
		WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2
		ORDER BY created_at DESC, id DESC`, userID, now)
	if err != nil {
		return nil, fmt.Errorf("postgres: list sessions of user %d: %w", userID, err)
	}
	defer rows.Close()
	var sessions []auth.Session
	for rows.Next() {
		var sess auth.Session
		if err := scanSession(rows, &sess); err != nil {
			return nil, fmt.Errorf("postgres: list sessions of user %d: %w", userID, err)
		}
		sessions = append(sessions, sess)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list sessions of user %d: %w", userID, err)
	}
	return sessions, nil
}

// CountLiveSessions counts the sessions live at now, across all users.
func (s *Store) CountLiveSessions(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM sessions
		WHERE revoked_at IS NULL AND expires_at > $1`, now).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("postgres: count live sessions: %w", err)
	}
	return n, nil
}

// DeleteEndedSessions deletes up to limit sessions that expired or were
// revoked before before. It announces nothing on the change feed: a
// revocation was announced when it happened, and an expired session is
// refused by every node's own clock.
func (s *Store) DeleteEndedSessions(ctx context.Context, before time.Time, limit int) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE id IN (
		SELECT id FROM sessions WHERE expires_at < $1 OR revoked_at < $1 LIMIT $2)`, before, limit)
	if err != nil {
		return 0, fmt.Errorf("postgres: delete ended sessions: %w", err)
	}
	return tag.RowsAffected(), nil
}
