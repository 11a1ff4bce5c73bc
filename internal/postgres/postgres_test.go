package postgres

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authtest"
	"github.com/gatehouse/gatehouse/internal/keyring"
)

// The tests run against the server named by GATEHOUSE_TEST_POSTGRES_URL, a
// postgres:// URL of a role that may create databases, e.g.
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable. Each test gets a
// database of its own, created empty and dropped WITH (FORCE) when it ends:
// tests can run in parallel, a change feed hears only its own test's
// NOTIFYs (channels are per database), and migrations run for real every
// time. A database costs ~50 ms to create on a laptop, which is cheap
// enough.

// newTestStore opens a Store on a fresh database and closes it when tb
// ends (before the database is dropped: cleanups run last-in first-out).
func newTestStore(tb testing.TB, opts ...Option) (*Store, string) {
	tb.Helper()
	dbURL := authtest.PostgresDatabase(tb)
	s, err := Open(context.Background(), dbURL, opts...)
	if err != nil {
		tb.Fatalf("Open(%s) = %v", dbURL, err)
	}
	tb.Cleanup(func() { s.Close() })
	return s, dbURL
}

func TestStore(t *testing.T) {
	authtest.RunStoreTests(t, func(t *testing.T) auth.Store {
		s, _ := newTestStore(t)
		return s
	})
}

func TestOpen_ConcurrentMigrate(t *testing.T) {
	dbURL := authtest.PostgresDatabase(t)
	const n = 4
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = Open(t.Context(), dbURL, WithMaxConns(2)) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open in goroutine %d of %d = %v", i, n, err)
		}
		defer stores[i].Close()
	}
	ms, err := embeddedMigrations()
	if err != nil {
		t.Fatal(err)
	}
	var rows int
	if err := stores[0].pool.QueryRow(t.Context(), `SELECT count(*) FROM schema_migrations`).Scan(&rows); err != nil {
		t.Fatalf("count schema_migrations: %v", err)
	}
	if rows != len(ms) {
		t.Errorf("schema_migrations after %d concurrent Opens: %d rows, want %d", n, rows, len(ms))
	}
	for i, s := range stores {
		if err := s.Ready(t.Context()); err != nil {
			t.Errorf("Ready() of store %d = %v", i, err)
		}
	}
}

func TestReady_Unmigrated(t *testing.T) {
	s, _ := newTestStore(t, WithoutMigrate())
	if err := s.Ready(t.Context()); err == nil {
		t.Errorf("Ready() on an empty database = nil, want an error")
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate() = %v", err)
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate() a second time = %v", err)
	}
	if err := s.Ready(t.Context()); err != nil {
		t.Errorf("Ready() after Migrate = %v", err)
	}
}

// A database that cannot be reached is a plain error, which the service
// answers with 503, never an auth error that would mean something else.
func TestOpen_Unreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err := Open(ctx, "postgres://postgres:hunter2@127.0.0.1:1/nowhere?sslmode=disable&connect_timeout=2")
	if err == nil {
		t.Fatal("Open(port 1) = nil, want an error")
	}
	if code := auth.ErrorCode(err); code != auth.CodeUnavailable {
		t.Errorf("auth.ErrorCode(Open(port 1)) = %q, want %q", code, auth.CodeUnavailable)
	}
	var ae *auth.Error
	if errors.As(err, &ae) {
		t.Errorf("Open(port 1) = %v, an *auth.Error; want a plain error", err)
	}
	if msg := err.Error(); strings.Contains(msg, "hunter2") {
		t.Errorf("Open(port 1) error %q contains the password", msg)
	}
}

// A store whose database went away fails with plain errors too.
func TestStore_ConnectionLost(t *testing.T) {
	s, dbURL := newTestStore(t)
	u := &auth.User{Email: "ada@example.com", PasswordHash: "x", CreatedAt: time.Now(), UpdatedAt: time.Now()}
	sess := &auth.Session{ID: "lost-1", CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
	if err := s.CreateUser(t.Context(), u, sess); err != nil {
		t.Fatalf("CreateUser = %v", err)
	}
	serverURL, name := authtest.RequireService(t, authtest.PostgresURLEnv), dbName(t, dbURL)
	authtest.AdminExec(t, serverURL, "ALTER DATABASE "+name+" WITH ALLOW_CONNECTIONS false")
	authtest.AdminExec(t, serverURL, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '"+name+"'")
	t.Cleanup(func() { authtest.AdminExec(t, serverURL, "ALTER DATABASE "+name+" WITH ALLOW_CONNECTIONS true") })

	_, err := s.Session(t.Context(), sess.ID)
	if err == nil {
		t.Fatal("Session() with the database refusing connections = nil, want an error")
	}
	if code := auth.ErrorCode(err); code != auth.CodeUnavailable {
		t.Errorf("auth.ErrorCode(Session() = %v) = %q, want %q", err, code, auth.CodeUnavailable)
	}
	if err := s.Ready(t.Context()); err == nil {
		t.Error("Ready() with the database refusing connections = nil, want an error")
	}
}

// dbName returns the database name in a URL made by newTestDB.
func dbName(tb testing.TB, dbURL string) string {
	tb.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

func TestPasskeyStore(t *testing.T) {
	authtest.RunPasskeyStoreTests(t, func(t *testing.T) authtest.PasskeyStore {
		s, _ := newTestStore(t)
		return s
	})
}

func TestKeyringStore(t *testing.T) {
	authtest.RunKeyringStoreTests(t, func(t *testing.T) keyring.Store {
		s, _ := newTestStore(t)
		return s
	})
}

func TestMFAStore(t *testing.T) {
	authtest.RunMFAStoreTests(t, func(t *testing.T) authtest.MFAStore {
		s, _ := newTestStore(t)
		return s
	})
}
