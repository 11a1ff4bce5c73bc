package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gatehouse/gatehouse/internal/auth"
)

const userColumns = `id, email, password_hash, created_at, updated_at, locked_at`

// userSelect are the columns scanUser reads: userColumns (what imports
// write), the confirmation flag and the second-factor hint.
const userSelect = userColumns + `, email_confirmation_pending, may_have_second_factor, factor_version`

// scanUser reads one row of userSelect.
func scanUser(row pgx.Row, u *auth.User) error {
	return row.Scan(&u.ID, &u.Email, &u.PasswordHash,
		timeCol{&u.CreatedAt}, timeCol{&u.UpdatedAt}, timeCol{&u.LockedAt}, &u.EmailUnconfirmed,
		&u.MayHaveSecondFactor, &u.FactorVersion)
}

// CreateUser inserts u and its first session sess (nil for an account
// made by an administrator, which has none) and, once committed, sets u.ID
// and sess.UserID. On error neither is changed and nothing is stored. A
// taken email is auth.ErrEmailTaken.
//
// With a session, both inserts are one statement: atomic without a
// transaction block, and one round trip.
func (s *Store) CreateUser(ctx context.Context, u *auth.User, sess *auth.Session) error {
	const insertUser = `INSERT INTO users (email, password_hash, created_at, updated_at, locked_at, email_confirmation_pending)
		VALUES ($1, $2, $3, $4, $5, $6)
		RETURNING id`
	args := []any{u.Email, u.PasswordHash, u.CreatedAt, u.UpdatedAt, nullTime(u.LockedAt), u.EmailUnconfirmed}
	query := insertUser
	if sess != nil {
		query = `WITH u AS (` + insertUser + `)
			INSERT INTO sessions (` + sessionColumns + `)
			SELECT $7, u.id, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22 FROM u
			RETURNING user_id`
		// Every session value but the user id, which comes from u.
		values := sessionValues(sess)
		args = append(append(args, values[0]), values[2:]...)
	}
	var id int64
	err := s.pool.QueryRow(ctx, query, args...).Scan(&id)
	if constraintViolation(err, uniqueViolation, "users_email_key") {
		err = auth.ErrEmailTaken
	}
	if err != nil {
		return writeError("create user", err)
	}
	u.ID = id
	if sess != nil {
		sess.UserID = id
	}
	return nil
}

// UserByEmail returns the user with the (normalized) email, or
// auth.ErrNotFound.
func (s *Store) UserByEmail(ctx context.Context, email string) (*auth.User, error) {
	var u auth.User
	err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userSelect+` FROM users WHERE email = $1`, email), &u)
	if errors.Is(err, pgx.ErrNoRows) {
		err = auth.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: user by email: %w", err)
	}
	return &u, nil
}

// UserByID returns user id, or auth.ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id int64) (*auth.User, error) {
	var u auth.User
	err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userSelect+` FROM users WHERE id = $1`, id), &u)
	if errors.Is(err, pgx.ErrNoRows) {
		err = auth.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: user %d: %w", id, err)
	}
	return &u, nil
}

// SetPasswordHash replaces the password hash of user id and sets its
// UpdatedAt to at. auth.ErrNotFound if there is no such user.
func (s *Store) SetPasswordHash(ctx context.Context, id int64, hash string, at time.Time) error {
	err := s.execOne(ctx, `UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3`, hash, at, id)
	if err != nil {
		return writeError(fmt.Sprintf("set password hash of user %d", id), err)
	}
	return nil
}

// SetLocked locks user id at at, or unlocks it if at is zero. UpdatedAt is
// left alone, as in the SQLite store. auth.ErrNotFound if there is no such
// user.
func (s *Store) SetLocked(ctx context.Context, id int64, at time.Time) error {
	err := s.execOne(ctx, `UPDATE users SET locked_at = $1 WHERE id = $2`, nullTime(at), id)
	if err != nil {
		return writeError(fmt.Sprintf("set locked of user %d", id), err)
	}
	return nil
}

// ClearSecondFactorHint clears the hint of user id if its factor_version
// is still version, in one statement (the compare-and-swap auth relies
// on): a concurrent factor insert holds the row until it commits, and the
// WHERE is then checked again against the bumped version.
func (s *Store) ClearSecondFactorHint(ctx context.Context, id, version int64) error {
	_, err := s.pool.Exec(ctx, `UPDATE users SET may_have_second_factor = false
		WHERE id = $1 AND factor_version = $2`, id, version)
	if err != nil {
		return writeError(fmt.Sprintf("clear second-factor hint of user %d", id), err)
	}
	return nil
}

// execOne runs a single-row write and returns auth.ErrNotFound if it
// matched no row.
func (s *Store) execOne(ctx context.Context, query string, args ...any) error {
	tag, err := s.pool.Exec(ctx, query, args...)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return auth.ErrNotFound
	}
	return nil
}

// DeleteUser deletes user id and its sessions, and returns the ids of
// those sessions that were not revoked (the store has no clock, so
// sessions that merely expired are included; dropping them from a cache is
// harmless). Each of them is announced on the change feed as revoked.
// auth.ErrNotFound if there is no such user.
func (s *Store) DeleteUser(ctx context.Context, id int64) ([]string, error) {
	var live []string
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// Lock the user first. CreateSession locks it too (and a plain
		// session insert takes a key-share lock through the foreign key),
		// so no session can appear after the next statement has looked:
		// every session deleted below is one we announce.
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, id).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return auth.ErrNotFound
		}
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `WITH deleted AS (
				DELETE FROM sessions WHERE user_id = $1
				RETURNING id, generation, revoked_at)
			SELECT id, `+notifyRevoked+` FROM deleted WHERE revoked_at IS NULL`, id)
		if err != nil {
			return err
		}
		if live, err = collectIDs(rows); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, id)
		return err
	})
	if err != nil {
		return nil, writeError(fmt.Sprintf("delete user %d", id), err)
	}
	return live, nil
}

// ListUsers returns up to limit users with ID > afterID in ID order; none
// if limit <= 0.
func (s *Store) ListUsers(ctx context.Context, afterID int64, limit int) ([]auth.User, error) {
	users := make([]auth.User, 0, min(max(limit, 0), 1000))
	if limit <= 0 {
		return users, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+userSelect+` FROM users WHERE id > $1 ORDER BY id LIMIT $2`, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: list users: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var u auth.User
		if err := scanUser(rows, &u); err != nil {
			return nil, fmt.Errorf("postgres: list users: %w", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list users: %w", err)
	}
	return users, nil
}

// ImportUsers inserts users with their own IDs in one transaction and
// reports one status per row, as the SQLite store does: ImportInserted;
// ImportUnchanged if that id is present with the same email (so a rerun of
// an import is harmless); ImportConflict if the id or the email belongs to
// another user. Within one call, rows count in order: of two rows with the
// same id or email the first wins. Conflicting rows are skipped, the
// others inserted. A row with a non-positive ID fails the whole call.
//
// The rows travel as one array per column and are inserted by a single
// INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING, so a call costs a
// few round trips however many rows it has. Later CreateUser ids are
// greater than any imported one: the id sequence is moved past them first
// (never backwards, so no id is handed out twice). Sequences are not
// transactional: a failed import still leaves the sequence moved on, which
// only skips ids.
func (s *Store) ImportUsers(ctx context.Context, users []auth.User) ([]auth.ImportStatus, error) {
	statuses := make([]auth.ImportStatus, len(users))
	if len(users) == 0 {
		return statuses, nil
	}
	cols := importColumns{
		ids:      make([]int64, len(users)),
		emails:   make([]string, len(users)),
		hashes:   make([]string, len(users)),
		created:  make([]time.Time, len(users)),
		updated:  make([]time.Time, len(users)),
		lockedAt: make([]pgtype.Timestamptz, len(users)),
	}
	var maxID int64
	for i := range users {
		u := &users[i]
		if u.ID <= 0 {
			return nil, fmt.Errorf("postgres: import users: row %d (%s): id %d is not positive", i, u.Email, u.ID)
		}
		maxID = max(maxID, u.ID)
		cols.ids[i], cols.emails[i], cols.hashes[i] = u.ID, u.Email, u.PasswordHash
		cols.created[i], cols.updated[i] = u.CreatedAt, u.UpdatedAt
		cols.lockedAt[i] = pgtype.Timestamptz{Time: u.LockedAt, Valid: !u.LockedAt.IsZero()}
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		inserted, err := importRows(ctx, tx, &cols, maxID)
		if err != nil {
			return err
		}
		return importStatuses(ctx, tx, cols.ids, cols.emails, inserted, statuses)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: import users: %w", err)
	}
	return statuses, nil
}

// importColumns holds the rows of an import column by column, the shape
// unnest takes.
type importColumns struct {
	ids              []int64
	emails, hashes   []string
	created, updated []time.Time
	lockedAt         []pgtype.Timestamptz
}

// importRows moves the id sequence past maxID, inserts every row that
// conflicts with nothing (in input order, so the first of two clashing
// rows wins) and returns the ids it inserted.
func importRows(ctx context.Context, tx pgx.Tx, c *importColumns, maxID int64) (map[int64]bool, error) {
	// Before the insert, so that a concurrent CreateUser from now on draws
	// an id above the imported ones. GREATEST keeps the sequence from ever
	// moving back.
	_, err := tx.Exec(ctx, `SELECT setval(seq, GREATEST($1::bigint,
			COALESCE(pg_sequence_last_value(seq), 0),
			(SELECT COALESCE(MAX(id), 0) FROM users)))
		FROM (SELECT pg_get_serial_sequence('users', 'id')::regclass AS seq) AS s`, maxID)
	if err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, `INSERT INTO users (`+userColumns+`)
		SELECT id, email, password_hash, created_at, updated_at, locked_at
		FROM unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::timestamptz[])
			WITH ORDINALITY AS t (id, email, password_hash, created_at, updated_at, locked_at, ord)
		ORDER BY ord
		ON CONFLICT DO NOTHING
		RETURNING id`,
		c.ids, c.emails, c.hashes, c.created, c.updated, c.lockedAt)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	inserted := make(map[int64]bool)
	var id int64
	_, err = pgx.ForEachRow(rows, []any{&id}, func() error {
		inserted[id] = true
		return nil
	})
	return inserted, err
}

// importStatuses fills in statuses from the state after the insert: the
// email now stored under each row's id, and which ids this call inserted.
// The first row with an inserted id and its email is the one inserted; any
// later row with the same id and email is unchanged.
func importStatuses(ctx context.Context, tx pgx.Tx, ids []int64, emails []string, inserted map[int64]bool, statuses []auth.ImportStatus) error {
	rows, err := tx.Query(ctx, `SELECT u.email
		FROM unnest($1::bigint[]) WITH ORDINALITY AS t (id, ord)
		LEFT JOIN users u ON u.id = t.id
		ORDER BY t.ord`, ids)
	if err != nil {
		return err
	}
	defer rows.Close()
	i := 0
	var stored *string
	_, err = pgx.ForEachRow(rows, []any{&stored}, func() error {
		if i >= len(ids) {
			return errors.New("more status rows than input rows")
		}
		same := stored != nil && *stored == emails[i]
		switch {
		case same && inserted[ids[i]]:
			statuses[i] = auth.ImportInserted
			delete(inserted, ids[i])
		case same:
			statuses[i] = auth.ImportUnchanged
		default:
			statuses[i] = auth.ImportConflict
		}
		i++
		return nil
	})
	if err == nil && i != len(ids) {
		err = fmt.Errorf("%d status rows for %d input rows", i, len(ids))
	}
	return err
}

// collectIDs returns the first column, a text id, of every row, closing
// rows. Further columns (pg_notify's void) are skipped.
func collectIDs(rows pgx.Rows) ([]string, error) {
	defer rows.Close()
	var ids []string
	var id string
	var dst []any
	for rows.Next() {
		if dst == nil {
			dst = make([]any, len(rows.FieldDescriptions()))
			dst[0] = &id
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
