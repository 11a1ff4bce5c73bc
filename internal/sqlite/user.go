package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
)

const userColumns = `id, email, password_hash, created_at, updated_at, locked_at`

// userSelect are the columns scanUser reads: userColumns (what imports
// write), the confirmation flag and the second-factor hint.
const userSelect = userColumns + `, email_confirmation_pending, may_have_second_factor, factor_version`

// scanUser reads one row of userSelect.
func scanUser(row interface{ Scan(...any) error }, u *auth.User) error {
	return row.Scan(&u.ID, &u.Email, &u.PasswordHash,
		timeCol{&u.CreatedAt}, timeCol{&u.UpdatedAt}, timeCol{&u.LockedAt}, &u.EmailUnconfirmed,
		&u.MayHaveSecondFactor, &u.FactorVersion)
}

// CreateUser inserts u and its first session sess (nil for an account made
// by an administrator) in one transaction and, once committed, sets u.ID and
// sess.UserID. On error neither is changed and nothing is stored. A taken
// email is auth.ErrEmailTaken.
func (s *Store) CreateUser(ctx context.Context, u *auth.User, sess *auth.Session) error {
	var id int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO users (email, password_hash, created_at, updated_at, locked_at, email_confirmation_pending)
			VALUES (?, ?, ?, ?, ?, ?)`,
			u.Email, u.PasswordHash, micros(u.CreatedAt), micros(u.UpdatedAt), nullMicros(u.LockedAt), u.EmailUnconfirmed)
		if isUniqueViolation(err) {
			return auth.ErrEmailTaken
		}
		if err != nil {
			return err
		}
		if id, err = res.LastInsertId(); err != nil || sess == nil {
			return err
		}
		first := *sess
		first.UserID = id
		return insertSession(ctx, tx, &first)
	})
	if err != nil {
		return fmt.Errorf("sqlite: create user: %w", err)
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
	err := scanUser(s.reader.QueryRowContext(ctx, `SELECT `+userSelect+` FROM users WHERE email = ?`, email), &u)
	if errors.Is(err, sql.ErrNoRows) {
		err = auth.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: user by email: %w", err)
	}
	return &u, nil
}

// UserByID returns user id, or auth.ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id int64) (*auth.User, error) {
	var u auth.User
	err := scanUser(s.reader.QueryRowContext(ctx, `SELECT `+userSelect+` FROM users WHERE id = ?`, id), &u)
	if errors.Is(err, sql.ErrNoRows) {
		err = auth.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: user %d: %w", id, err)
	}
	return &u, nil
}

// SetPasswordHash replaces the password hash of user id and sets its
// UpdatedAt to at. auth.ErrNotFound if there is no such user.
func (s *Store) SetPasswordHash(ctx context.Context, id int64, hash string, at time.Time) error {
	err := s.execOne(ctx, `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`, hash, micros(at), id)
	if err != nil {
		return fmt.Errorf("sqlite: set password hash of user %d: %w", id, err)
	}
	return nil
}

// SetLocked locks user id at at, or unlocks it if at is zero. UpdatedAt is
// left alone: an unlock carries no time to set it to. auth.ErrNotFound if
// there is no such user.
func (s *Store) SetLocked(ctx context.Context, id int64, at time.Time) error {
	err := s.execOne(ctx, `UPDATE users SET locked_at = ? WHERE id = ?`, nullMicros(at), id)
	if err != nil {
		return fmt.Errorf("sqlite: set locked of user %d: %w", id, err)
	}
	return nil
}

// ClearSecondFactorHint clears the hint of user id if its factor_version
// is still version, in one statement (the compare-and-swap auth relies on).
func (s *Store) ClearSecondFactorHint(ctx context.Context, id, version int64) error {
	_, err := s.writer.ExecContext(ctx, `UPDATE users SET may_have_second_factor = 0
		WHERE id = ? AND factor_version = ?`, id, version)
	if err != nil {
		return fmt.Errorf("sqlite: clear second-factor hint of user %d: %w", id, err)
	}
	return nil
}

// execOne runs a single-row write on the writer and returns auth.ErrNotFound
// if it matched no row.
func (s *Store) execOne(ctx context.Context, query string, args ...any) error {
	return rowsAffected(s.writer.ExecContext(ctx, query, args...))
}

// rowsAffected turns a write that matched no row into auth.ErrNotFound.
func rowsAffected(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return auth.ErrNotFound
	}
	return nil
}

// DeleteUser deletes user id and, by cascade, its sessions, and returns the
// ids of those sessions that were not revoked (the store has no clock, so
// sessions that merely expired are included; dropping them from a cache is
// harmless). auth.ErrNotFound if there is no such user.
func (s *Store) DeleteUser(ctx context.Context, id int64) ([]string, error) {
	var live []string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		live, err = queryStrings(ctx, tx, `SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL`, id)
		if err != nil {
			return err
		}
		return rowsAffected(tx.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id))
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: delete user %d: %w", id, err)
	}
	return live, nil
}

// ListUsers returns up to limit users with ID > afterID in ID order; none if
// limit <= 0.
func (s *Store) ListUsers(ctx context.Context, afterID int64, limit int) ([]auth.User, error) {
	users := make([]auth.User, 0, min(max(limit, 0), 1000))
	if limit <= 0 {
		return users, nil
	}
	rows, err := s.reader.QueryContext(ctx, `SELECT `+userSelect+` FROM users WHERE id > ? ORDER BY id LIMIT ?`, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list users: %w", err)
	}
	if users, err = collect(rows, users, scanUser); err != nil {
		return nil, fmt.Errorf("sqlite: list users: %w", err)
	}
	return users, nil
}

// ImportUsers inserts users with their own IDs in one transaction and
// reports one status per row: ImportInserted; ImportUnchanged if that id is
// already present with the same email (so a rerun of an import is
// harmless); ImportConflict if the id or the email belongs to another user.
// Conflicting rows are skipped, the others still inserted. A row with a
// non-positive ID fails the whole call. Later CreateUser ids are greater
// than any imported one (AUTOINCREMENT tracks the largest id ever used).
func (s *Store) ImportUsers(ctx context.Context, users []auth.User) ([]auth.ImportStatus, error) {
	for i := range users {
		if users[i].ID <= 0 {
			return nil, fmt.Errorf("sqlite: import users: row %d: id %d is not positive", i, users[i].ID)
		}
	}
	statuses := make([]auth.ImportStatus, len(users))
	if len(users) == 0 {
		return statuses, nil
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// DO NOTHING covers both the id and the email constraint; a skipped
		// row is then told apart by one primary-key lookup.
		insert, err := tx.PrepareContext(ctx, `INSERT INTO users (`+userColumns+`)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
		if err != nil {
			return err
		}
		defer insert.Close()
		emailOf, err := tx.PrepareContext(ctx, `SELECT email FROM users WHERE id = ?`)
		if err != nil {
			return err
		}
		defer emailOf.Close()

		for i := range users {
			if statuses[i], err = importUser(ctx, insert, emailOf, &users[i]); err != nil {
				return fmt.Errorf("row %d (id %d): %w", i, users[i].ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: import users: %w", err)
	}
	return statuses, nil
}

// importUser inserts u with the prepared statements of ImportUsers and
// reports the outcome.
func importUser(ctx context.Context, insert, emailOf *sql.Stmt, u *auth.User) (auth.ImportStatus, error) {
	res, err := insert.ExecContext(ctx, u.ID, u.Email, u.PasswordHash,
		micros(u.CreatedAt), micros(u.UpdatedAt), nullMicros(u.LockedAt))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	if n == 1 {
		return auth.ImportInserted, nil
	}
	var email string
	switch err := emailOf.QueryRowContext(ctx, u.ID).Scan(&email); {
	case errors.Is(err, sql.ErrNoRows): // the email belongs to another id
		return auth.ImportConflict, nil
	case err != nil:
		return 0, err
	case email == u.Email:
		return auth.ImportUnchanged, nil
	default:
		return auth.ImportConflict, nil
	}
}

// queryStrings returns the single TEXT column of every row of query.
func queryStrings(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Close explicitly: for an UPDATE ... RETURNING this is where an
	// autocommit statement commits, and its error must not be lost.
	return ids, rows.Close()
}
