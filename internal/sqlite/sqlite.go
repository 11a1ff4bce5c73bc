// Package sqlite implements auth.Store on a SQLite database file, using the
// pure-Go driver modernc.org/sqlite.
//
// Durability: every connection runs in WAL mode with synchronous=FULL, so a
// method that returned nil has committed and the commit survives a power
// loss, not just a process crash.
//
// Concurrency: a Store holds two connection pools on the same file. The
// writer pool has exactly one connection and carries every write and every
// transaction; our own writers therefore queue in database/sql instead of
// failing with SQLITE_BUSY (the hot session writes queue in the group
// commit of batch.go, sharing a transaction), and transactions begin
// IMMEDIATE so a read-then-write transaction never has to upgrade its
// lock. The reader pool
// (readerConns connections, query_only) serves plain lookups, which in WAL
// mode never wait for the writer. busy_timeout covers the remaining case:
// another process (the CLI, a second server) writing the same file.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/migration"
)

// readerConns is the size of the read pool. Reads are short primary-key or
// index lookups; a few connections keep them off the writer's queue.
const readerConns = 4

// busyTimeout is how long a connection waits for a lock held by another
// process before SQLITE_BUSY.
const busyTimeout = 5 * time.Second

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Store is an auth.Store on one SQLite database file. It is safe for
// concurrent use.
type Store struct {
	writer *sql.DB // one connection: every write and transaction
	reader *sql.DB // query_only connections for plain lookups
	// The statements of the refresh and sign-out path, prepared once:
	// parsing the SQL again on every call was a sixth of a refresh's CPU.
	sessionStmt *sql.Stmt // on reader
	rotateStmt  *sql.Stmt // on writer
	revokeStmt  *sql.Stmt // on writer
	batch       *batcher  // group commit of the hot writes, on writer
	dir         string    // the database file's folder, for FreeBytes
}

var (
	_ auth.Store     = (*Store)(nil)
	_ auth.FeedStore = (*Store)(nil)
	_ auth.DiskStore = (*Store)(nil)
)

// Open opens the database file at path, creating it if needed, applies any
// pending migrations and returns a ready Store. path is a file name, not a
// URI; an in-memory database is refused because the two pools would each see
// a different one.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: open %q: need the path of a database file", path)
	}
	if err := ownerOnly(path); err != nil {
		return nil, err
	}
	writer, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)

	s := &Store{writer: writer, dir: filepath.Dir(path)}
	// The writer connects first: it creates the file and switches it to WAL
	// (a persistent setting) before any query_only reader connects.
	if err := s.Migrate(ctx); err != nil {
		writer.Close()
		return nil, openError(path, err)
	}

	reader, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	reader.SetMaxOpenConns(readerConns)
	reader.SetMaxIdleConns(readerConns)
	reader.SetConnMaxLifetime(0)
	reader.SetConnMaxIdleTime(0)
	s.reader = reader
	if err := reader.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s.batch = newBatcher(writer)
	return s, nil
}

// dsn is the modernc.org/sqlite data source name for path. The pragmas go in
// the DSN, not in a one-off Exec, because database/sql opens connections
// lazily and each new connection must get them: synchronous, foreign_keys
// and busy_timeout are per connection.
func dsn(path string, writer bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(busyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(ON)")
	if writer {
		q.Set("_txlock", "immediate")
	} else {
		// A reader that tries to write is a bug; make it fail loudly.
		q.Add("_pragma", "query_only(ON)")
	}
	// With the file: prefix the driver hands the whole string to SQLite as a
	// URI, so the path is escaped: '?', '#' and '%' are legal in file names.
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// prepare prepares the hot statements (see Store).
func (s *Store) prepare(ctx context.Context) error {
	var err error
	if s.sessionStmt, err = s.reader.PrepareContext(ctx, sessionQuery); err != nil {
		return err
	}
	if s.rotateStmt, err = s.writer.PrepareContext(ctx, rotateQuery); err != nil {
		return err
	}
	s.revokeStmt, err = s.writer.PrepareContext(ctx, revokeQuery)
	return err
}

// Close commits the writes in flight and closes the statements and both
// pools.
func (s *Store) Close() error {
	if s.batch != nil {
		s.batch.close()
	}
	var errs []error
	for _, st := range []*sql.Stmt{s.sessionStmt, s.rotateStmt, s.revokeStmt} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	if s.reader != nil {
		errs = append(errs, s.reader.Close())
	}
	return errors.Join(append(errs, s.writer.Close())...)
}

// Now reads the clock of the host the database file lives on, which every
// process sharing the file shares (millisecond precision).
func (s *Store) Now(ctx context.Context) (time.Time, error) {
	var text string
	if err := s.reader.QueryRowContext(ctx, `SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`).Scan(&text); err != nil {
		return time.Time{}, fmt.Errorf("sqlite: now: %w", err)
	}
	t, err := time.Parse("2006-01-02T15:04:05.000Z", text)
	if err != nil {
		return time.Time{}, fmt.Errorf("sqlite: now: %w", err)
	}
	return t, nil
}

// Ready reports whether the database answers and carries every migration
// this binary knows. It asks a reader, so a long write does not make the
// server look unready.
func (s *Store) Ready(ctx context.Context) error {
	ms, err := embeddedMigrations()
	if err != nil {
		return fmt.Errorf("sqlite: ready: %w", err)
	}
	var version int
	err = s.reader.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&version)
	if err != nil {
		return fmt.Errorf("sqlite: ready: %w", err)
	}
	if want := ms[len(ms)-1].Version; version < want {
		return fmt.Errorf("sqlite: ready: schema at version %d, want %d", version, want)
	}
	return nil
}

// embeddedMigrations are the embedded migrations, read once.
var embeddedMigrations = sync.OnceValues(func() ([]migration.File, error) {
	return migration.Load(migrationFiles, "migrations")
})

// Migrate applies the embedded migrations that the database lacks, each in
// its own transaction together with its schema_migrations row, so a crash
// leaves every migration either fully applied or not at all. Running it
// again, or from two processes at once, is harmless: the check for a
// version happens inside the IMMEDIATE transaction that applies it.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := embeddedMigrations()
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	_, err = s.writer.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`)
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	for _, m := range ms {
		if err := s.migrate(ctx, m); err != nil {
			return fmt.Errorf("sqlite: migrate %s: %w", m.Name, err)
		}
	}
	return nil
}

func (s *Store) migrate(ctx context.Context, m migration.File) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var applied bool
		err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?)`, m.Version).Scan(&applied)
		if err != nil || applied {
			return err
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.Version, m.Name, time.Now().UnixMicro())
		return err
	})
}

// tx runs fn in a write transaction (BEGIN IMMEDIATE, on the one writer
// connection) and commits if fn returns nil. fn must use only tx: touching
// s.writer inside it would wait forever for the connection fn holds.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// bulkCacheKiB is the writer's page cache (KiB) once it has bulk-loaded:
// the rows of an import batch go in id order, but the ids are random, so
// every batch touches pages all over the primary-key index of sessions;
// with SQLite's default 2 MiB, most of them are evicted and read back from
// the file by the next batch (measured in docs/benchmarks.md).
const bulkCacheKiB = 64 << 10

// bulkTx is tx for a bulk load. It enlarges the writer's page cache for
// the rest of the connection's life, not for the one transaction: shrinking
// it again frees the pages the next batch needs (measured: slower than the
// default). A server never bulk-loads, so its writer keeps the default.
func (s *Store) bulkTx(ctx context.Context, fn func(*sql.Tx) error) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA cache_size = -%d`, bulkCacheKiB)); err != nil {
			return err
		}
		return fn(tx)
	})
}

// bulkRowContext is the context for the statements of one row of a bulk
// load inside a transaction begun with ctx. The driver watches the context
// of every statement that can end with a goroutine and a progress handler
// of its own, a tenth of a bulk insert's CPU per row; a context that
// cannot end needs neither. Cancelling ctx still stops the load: database/sql
// rolls the transaction back and the next row's statement fails.
func bulkRowContext(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// errorCode returns the extended SQLite result code of err, or 0.
func errorCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

// isUniqueViolation reports whether err is a UNIQUE or PRIMARY KEY
// constraint failure.
func isUniqueViolation(err error) bool {
	c := errorCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// isForeignKeyViolation reports whether err is a FOREIGN KEY constraint
// failure.
func isForeignKeyViolation(err error) bool {
	return errorCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// micros is t as stored: Unix microseconds. Times before 1970 work too; the
// zero time.Time round-trips to itself.
func micros(t time.Time) int64 { return t.UnixMicro() }

// nullMicros is t as stored in a nullable column: NULL for the zero time.
func nullMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// timeCol scans an INTEGER Unix-microsecond column, or NULL as the zero
// time, into a UTC time.Time.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*c.t = time.Time{}
	case int64:
		*c.t = time.UnixMicro(v).UTC()
	default:
		return fmt.Errorf("time column holds %T, want INTEGER Unix microseconds", v)
	}
	return nil
}

// Analyze refreshes the query planner's statistics after a bulk load.
func (s *Store) Analyze(ctx context.Context) error {
	if _, err := s.writer.ExecContext(ctx, `ANALYZE`); err != nil {
		return fmt.Errorf("sqlite: analyze: %w", err)
	}
	return nil
}

// collect appends every row of rows, read by scan, to out (nil or a slice
// made for the answer, so an empty result keeps the caller's choice of nil
// or empty) and closes rows.
func collect[T any](rows *sql.Rows, out []T, scan func(interface{ Scan(...any) error }, *T) error) ([]T, error) {
	defer rows.Close()
	for rows.Next() {
		var v T
		if err := scan(rows, &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
