// Package postgres implements auth.Store and auth.Counter on PostgreSQL
// (pgx v5, one pgxpool per Store), and a change feed that lets every node
// of a cluster keep its session cache coherent.
//
// # Durability and errors
//
// A method that returned nil has committed. Errors are wrapped with the
// operation ("postgres: rotate session ...: ..."); the only auth errors a
// method returns are the sentinels its contract names (auth.ErrNotFound,
// auth.ErrEmailTaken, auth.ErrConflict), recognized by SQLSTATE and
// constraint name, never by message text, and auth.ErrOutcomeUnknown for a
// write whose connection failed after it may have reached the server
// (writeError). Everything else, in particular a refused connection, stays
// a plain wrapped error, which the service reports as a temporary failure
// (503).
//
// # Change feed
//
// Every transaction that rotates or revokes sessions (RotateSession,
// RevokeSession, RevokeUserSessions, DeleteUser and the evictions of
// CreateSession) also sends, inside that same transaction, one
// NOTIFY gatehouse_sessions per affected session, with the payload
// "<session id> <generation> <1 if revoked, else 0>". PostgreSQL delivers a
// notification only if its transaction commits, after the commit, and to
// each listener in commit order; a rolled-back change is never announced.
// A Listener turns these into calls of auth.Service.SessionChanged.
//
// What a listener can miss is exactly what happened while it was not
// connected. So a Listener reports its health: unhealthy from the moment
// it starts until LISTEN has succeeded, and again as soon as its
// connection fails or cannot be proven alive (no traffic for 250 ms, then
// a SELECT 1 that does not answer within 500 ms), so within about 750 ms of
// the database or the network going away. auth.Service.SetFeedHealthy turns
// that into fail-closed behaviour: while unhealthy the node reads every
// session from the database, and it empties its cache when the feed comes
// back, since changes made in between were not seen. LISTEN needs a real
// session: put the Listener's URL past a transaction-pooling proxy
// (PgBouncer in transaction mode) and it would silently hear nothing.
//
// # Migrations
//
// Open applies the embedded migrations (migrations/*.sql) in one
// transaction that first takes a transaction-scoped advisory lock, so any
// number of nodes may start at once against an empty database: one
// migrates, the others wait for it and then find nothing to do.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/migration"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock is the pg_advisory_xact_lock key that serializes Migrate
// across processes. Advisory locks are per database, so the key only has
// to be unique among the users of this one ("gatehous" in ASCII).
const migrationLock int64 = 0x67617465686f7573

// Store is an auth.Store on a PostgreSQL database. It is safe for
// concurrent use.
type Store struct {
	pool *pgxpool.Pool
}

var (
	_ auth.Store              = (*Store)(nil)
	_ auth.FeedStore          = (*Store)(nil)
	_ auth.SharedCounterStore = (*Store)(nil)
)

// Option configures Open.
type Option func(*options)

type options struct {
	maxConns  int32
	noMigrate bool
}

// WithMaxConns caps the connection pool at n connections (pgxpool's default
// is the larger of 4 and the number of CPUs; the URL parameter
// pool_max_conns works too).
func WithMaxConns(n int32) Option { return func(o *options) { o.maxConns = n } }

// WithoutMigrate makes Open skip Migrate, for deployments that migrate in
// a separate step (gatehouse migrate). Ready then fails until the schema is
// current.
func WithoutMigrate() Option { return func(o *options) { o.noMigrate = true } }

// Open connects to the database at url (a postgres:// URL or a libpq
// key=value string), checks that it answers, applies pending migrations and
// returns a ready Store. The pool's sessions carry application_name
// "gatehouse" unless url sets one.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	// pgx redacts passwords in its parse errors.
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "gatehouse"
	}
	if o.maxConns > 0 {
		cfg.MaxConns = o.maxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	s := &Store{pool: pool}
	// pgxpool connects lazily; find out now whether the database is there.
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if !o.noMigrate {
		if err := s.Migrate(ctx); err != nil {
			pool.Close()
			return nil, err
		}
	}
	return s, nil
}

// Close closes the pool, waiting for borrowed connections to come back.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Now reads the database server's clock: clock_timestamp(), the time of
// the call, not now(), which is the start of the transaction.
func (s *Store) Now(ctx context.Context) (time.Time, error) {
	var t time.Time
	if err := s.pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&t); err != nil {
		return time.Time{}, fmt.Errorf("postgres: now: %w", err)
	}
	return t.UTC(), nil
}

// Ready reports whether the database answers and carries every migration
// this binary knows.
func (s *Store) Ready(ctx context.Context) error {
	ms, err := embeddedMigrations()
	if err != nil {
		return fmt.Errorf("postgres: ready: %w", err)
	}
	var version int
	err = s.pool.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&version)
	if err != nil {
		return fmt.Errorf("postgres: ready: %w", err)
	}
	if want := ms[len(ms)-1].Version; version < want {
		return fmt.Errorf("postgres: ready: schema at version %d, want %d", version, want)
	}
	return nil
}

// embeddedMigrations are the embedded migrations, read once.
var embeddedMigrations = sync.OnceValues(func() ([]migration.File, error) {
	return migration.Load(migrationFiles, "migrations")
})

// Migrate applies the embedded migrations that the database lacks, all in
// one transaction together with their schema_migrations rows: PostgreSQL's
// DDL is transactional, so a failure leaves the schema as it was. The
// transaction starts by taking an advisory lock, and only then looks at
// what is applied (even CREATE TABLE IF NOT EXISTS races without it), so
// concurrent callers on any number of nodes apply each migration once.
//
// A database that is already current is left untouched without any DDL, so
// a node whose role may only read and write rows (migrations applied by a
// separate `gatehouse migrate` with a stronger role) starts fine.
func (s *Store) Migrate(ctx context.Context) error {
	if s.Ready(ctx) == nil {
		return nil
	}
	ms, err := embeddedMigrations()
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer     PRIMARY KEY,
			name       text        NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return err
		}
		applied, err := pgx.CollectRows(rows, pgx.RowTo[int])
		if err != nil {
			return err
		}
		for _, m := range ms {
			if slices.Contains(applied, m.Version) {
				continue
			}
			// No arguments: pgx sends it with the simple protocol, which
			// takes several statements at once.
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("%s: %w", m.Name, err)
			}
			_, err = tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
			if err != nil {
				return fmt.Errorf("%s: %w", m.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

// writeError wraps the error of a write with its operation. When the
// connection failed after the statement (or its COMMIT) may have reached
// the server, the write may have committed, and only the database knows:
// that is auth.ErrOutcomeUnknown, not a plain failure the client could
// safely retry blindly.
func writeError(op string, err error) error {
	if outcomeUnknown(err) {
		return fmt.Errorf("postgres: %s: %w: %w", op, auth.ErrOutcomeUnknown, err)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// outcomeUnknown reports whether a write that failed with err may have
// committed. Known outcomes: an answer from the server (a PgError, or the
// store's own auth errors), a failure pgconn knows happened before anything
// was sent (SafeToRetry), a failure to connect, a context that ended while
// waiting for a pooled connection, and any failure inside a transaction
// before its COMMIT (notCommitted). Anything else is a connection that
// broke mid-conversation (EOF, reset, a timeout while reading the answer)
// of an autocommit statement or a COMMIT.
func outcomeUnknown(err error) bool {
	var (
		pgErr   *pgconn.PgError
		connErr *pgconn.ConnectError
		authErr *auth.Error
		before  notCommitted
		sent    interface{ SafeToRetry() bool }
	)
	switch {
	case errors.As(err, &pgErr), errors.As(err, &connErr), errors.As(err, &authErr), errors.Is(err, auth.ErrConflict),
		errors.As(err, &before):
		return false
	case errors.As(err, &sent):
		return !sent.SafeToRetry()
	}
	return !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled)
}

// rowTo adapts a scanX(row, &x) function to pgx.CollectRows.
func rowTo[T any](scan func(pgx.Row, *T) error) pgx.RowToFunc[T] {
	return func(row pgx.CollectableRow) (T, error) {
		var v T
		err := scan(row, &v)
		return v, err
	}
}

// notCommitted marks a failure inside a transaction: COMMIT was never
// sent, so nothing of it was committed, however the connection broke.
type notCommitted struct{ error }

func (e notCommitted) Unwrap() error { return e.error }

// inTx runs fn in a transaction and commits it. Only a failed COMMIT can
// leave the outcome unknown; every earlier failure is notCommitted.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return notCommitted{err}
	}
	if err := fn(tx); err != nil {
		tx.Rollback(ctx)
		return notCommitted{err}
	}
	return tx.Commit(ctx)
}

// SQLSTATE codes the store tells apart.
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

// constraintViolation reports whether err is a violation (SQLSTATE code)
// of the named constraint.
func constraintViolation(err error, code, constraint string) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == code && e.ConstraintName == constraint
}

// nullTime is t as a nullable column value: NULL for the zero time.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// timeCol scans a timestamptz column, NULL as the zero time, into a UTC
// time.Time (pgx would return the process's local zone).
type timeCol struct{ t *time.Time }

func (c timeCol) ScanTimestamptz(v pgtype.Timestamptz) error {
	switch {
	case !v.Valid:
		*c.t = time.Time{}
	case v.InfinityModifier != pgtype.Finite:
		return errors.New("timestamptz column holds an infinity")
	default:
		*c.t = v.Time.UTC()
	}
	return nil
}

// notifyChannel is the NOTIFY channel of the change feed.
const notifyChannel = "gatehouse_sessions"

// notifyRotated and notifyRevoked are the select-list expressions that
// announce a changed session on the change feed (see the package comment).
// The query they appear in must have id and generation columns. pg_notify
// returns void, so the column they add is scanned into nil.
const (
	notifyRotated = `pg_notify('` + notifyChannel + `', id || ' ' || generation || ' 0')`
	notifyRevoked = `pg_notify('` + notifyChannel + `', id || ' ' || generation || ' 1')`
)

// Analyze refreshes the planner's statistics of the tables that bulk loads
// fill (ImportUsers, ImportSessions): until autovacuum gets to them, stale
// statistics make the session-cap query scan every live session.
func (s *Store) Analyze(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, `ANALYZE users, sessions`); err != nil {
		return fmt.Errorf("postgres: analyze: %w", err)
	}
	return nil
}
