package sqlite

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gatehouse/gatehouse/internal/auth"
)

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%q) = %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// The durability and locking settings must hold on every pooled connection,
// not just the first: database/sql opens connections lazily.
func TestOpen_Pragmas(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "gatehouse.db"))
	ctx := t.Context()
	pools := []struct {
		name      string
		db        *sql.DB
		conns     int
		queryOnly int
	}{
		{name: "writer", db: s.writer, conns: 1, queryOnly: 0},
		{name: "reader", db: s.reader, conns: readerConns, queryOnly: 1},
	}
	for _, pool := range pools {
		// Hold every connection of the pool at once, so each is a distinct one.
		var conns []*sql.Conn
		for range pool.conns {
			c, err := pool.db.Conn(ctx)
			if err != nil {
				t.Fatalf("%s: Conn() = %v", pool.name, err)
			}
			defer c.Close()
			conns = append(conns, c)
		}
		for i, c := range conns {
			var journalMode string
			var synchronous, foreignKeys, busyTimeout, queryOnly int
			for _, p := range []struct {
				pragma string
				dest   any
			}{
				{"journal_mode", &journalMode},
				{"synchronous", &synchronous},
				{"foreign_keys", &foreignKeys},
				{"busy_timeout", &busyTimeout},
				{"query_only", &queryOnly},
			} {
				if err := c.QueryRowContext(ctx, "PRAGMA "+p.pragma).Scan(p.dest); err != nil {
					t.Fatalf("%s conn %d: PRAGMA %s = %v", pool.name, i, p.pragma, err)
				}
			}
			got := []any{journalMode, synchronous, foreignKeys, busyTimeout, queryOnly}
			want := []any{"wal", 2, 1, 5000, pool.queryOnly}
			if d := cmp.Diff(got, want); d != "" {
				t.Errorf("%s conn %d: journal_mode, synchronous, foreign_keys, busy_timeout, query_only mismatch (-got +want):\n%s",
					pool.name, i, d)
			}
		}
	}
}

// A write transaction takes the write lock at BEGIN, so a read-then-write
// transaction can never fail to upgrade its lock halfway through.
func TestOpen_WriterBeginsImmediate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	s := open(t, path)
	ctx := t.Context()
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		t.Fatalf("BeginTx() = %v", err)
	}
	defer tx.Rollback()

	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	c, err := other.Conn(ctx)
	if err != nil {
		t.Fatalf("Conn() = %v", err)
	}
	defer c.Close()
	_, err = c.ExecContext(ctx, "BEGIN IMMEDIATE")
	if errorCode(err)&0xff != sqlite3.SQLITE_BUSY {
		t.Errorf("BEGIN IMMEDIATE from another connection while the writer is in a transaction = %v, want SQLITE_BUSY", err)
	}
}

// Reopening a file keeps its data and applies no migration twice.
func TestOpen_Reopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	ctx := t.Context()
	type applied struct {
		Version   int
		Name      string
		AppliedAt int64
	}
	migrations := func(s *Store) []applied {
		t.Helper()
		rows, err := s.reader.QueryContext(ctx, `SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
		if err != nil {
			t.Fatalf("SELECT FROM schema_migrations = %v", err)
		}
		defer rows.Close()
		var as []applied
		for rows.Next() {
			var a applied
			if err := rows.Scan(&a.Version, &a.Name, &a.AppliedAt); err != nil {
				t.Fatal(err)
			}
			as = append(as, a)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return as
	}

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open(%q) = %v", path, err)
	}
	u := &auth.User{Email: "ada@example.com", PasswordHash: "h"}
	if err := s.CreateUser(ctx, u, &auth.Session{ID: "s1"}); err != nil {
		t.Fatalf("CreateUser = %v", err)
	}
	before := migrations(s)
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate() on a migrated database = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	ms, err := embeddedMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(before) != len(ms) {
		t.Errorf("schema_migrations has %d rows after Open, want %d", len(before), len(ms))
	}

	s = open(t, path)
	if d := cmp.Diff(migrations(s), before); d != "" {
		t.Errorf("schema_migrations changed by reopening (-got +want):\n%s", d)
	}
	if got, err := s.UserByEmail(ctx, u.Email); err != nil || got.ID != u.ID {
		t.Errorf("UserByEmail(%q) after reopening = %v, %v, want user %d", u.Email, got, err, u.ID)
	}
	if err := s.Ready(ctx); err != nil {
		t.Errorf("Ready() after reopening = %v", err)
	}
}

// File names may hold characters that mean something in a URI.
func TestOpen_PathNeedsEscaping(t *testing.T) {
	path := filepath.Join(t.TempDir(), "odd dir?#%", "gate house?x=1#frag%20.db")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	s := open(t, path)
	if err := s.CreateUser(t.Context(), &auth.User{Email: "ada@example.com"}, &auth.Session{ID: "s1"}); err != nil {
		t.Fatalf("CreateUser = %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database file not at the given path: %v", err)
	}
}

func TestOpen_RefusesNonFiles(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file::memory:?cache=shared"} {
		if s, err := Open(context.Background(), path); err == nil {
			s.Close()
			t.Errorf("Open(%q) = nil error, want one", path)
		}
	}
}

func TestReady_Unmigrated(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "gatehouse.db"))
	if _, err := s.writer.ExecContext(t.Context(), `DELETE FROM schema_migrations`); err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(t.Context()); err == nil {
		t.Errorf("Ready() with an empty schema_migrations = nil, want an error")
	}
}

func TestTimeCol_RejectsText(t *testing.T) {
	var tm time.Time
	if err := (timeCol{&tm}).Scan("2025-03-14"); err == nil {
		t.Errorf("timeCol.Scan(text) = %v, want an error", err)
	}
}
