package main

import (
	"bytes"
	"database/sql"
	"encoding/hex"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authtest"
)

// legacyRoot stands for the key an earlier version generated and kept in
// the database's secrets table.
var legacyRoot = []byte("legacy-root-kept-in-the-database!")

// appWith builds an app on db with extra flags.
func appWith(t *testing.T, db string, flags ...string) (*app, error) {
	t.Helper()
	cfg, err := parseConfig("test", append([]string{"--db", db, "--rate-limit=false", "--cookie-secure=false"}, flags...), noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a, err := buildApp(t.Context(), cfg, newLogger(cfg, io.Discard))
	if err == nil {
		t.Cleanup(func() { a.Close() })
	}
	return a, err
}

// sessionUnder registers a user on an app whose root is legacyRoot, as a
// server of the earlier version would have, and returns the tokens.
func sessionUnder(t *testing.T, db string) (access, refresh string) {
	t.Helper()
	old, err := appWith(t, db, "--secret", string(legacyRoot))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(old.handler)
	defer srv.Close()
	access, refresh = register(t, srv.URL, "ada@example.com")
	old.Close()
	return access, refresh
}

// stillSignedIn checks that a session made under legacyRoot works on a.
func stillSignedIn(t *testing.T, a *app, access, refresh string) {
	t.Helper()
	if _, err := a.svc.Authenticate(t.Context(), access); err != nil {
		t.Errorf("Authenticate(access token from before the move) = %v, want nil", err)
	}
	if _, err := a.svc.Refresh(t.Context(), auth.RefreshRequest{RefreshToken: refresh}); err != nil {
		t.Errorf("Refresh(refresh token from before the move) = %v, want nil", err)
	}
}

// TestSQLiteMovesLegacyRootOut: an upgrade finds the key in the database,
// moves it to the owner-only key file and deletes it from the database;
// nobody is signed out.
func TestSQLiteMovesLegacyRootOut(t *testing.T) {
	c := newCLI(t)
	access, refresh := sessionUnder(t, c.db)
	path := strings.TrimPrefix(c.db, "sqlite:")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO secrets (name, value, created_at) VALUES (?, ?, 0)`, legacySecretName, legacyRoot); err != nil {
		t.Fatal(err)
	}

	a, err := appWith(t, c.db)
	if err != nil {
		t.Fatalf("first start after the upgrade: %v", err)
	}
	if got, err := os.ReadFile(path + ".key"); err != nil || !bytes.Equal(got, legacyRoot) {
		t.Errorf("key file after the move = %q, %v; want the database's key", got, err)
	}
	var n int
	db.QueryRow(`SELECT count(*) FROM secrets`).Scan(&n)
	if n != 0 {
		t.Errorf("secrets rows after the move = %d, want 0", n)
	}
	stillSignedIn(t, a, access, refresh)

	// A database whose key differs from the file's: the pair does not
	// belong together, and guessing would sign everyone out.
	db.Exec(`INSERT INTO secrets (name, value, created_at) VALUES (?, ?, 0)`, legacySecretName, []byte("another-key-another-key-another-key"))
	if _, err := appWith(t, c.db); err == nil || !strings.Contains(err.Error(), "differs") {
		t.Errorf("start with a database key that differs from the file's: %v, want refused", err)
	}
}

// TestPostgresRootSecret: PostgreSQL never generates the root secret (the
// nodes must share it), points a deployment whose key is still in the
// database to export-root, and export-root moves it without signing
// anyone out.
func TestPostgresRootSecret(t *testing.T) {
	db := authtest.PostgresDatabase(t)
	if _, err := appWith(t, db); err == nil || !strings.Contains(err.Error(), "--secret") {
		t.Errorf("PostgreSQL without --secret: %v, want a usage error naming --secret", err)
	}
	access, refresh := sessionUnder(t, db)
	authtest.AdminExec(t, db, `INSERT INTO secrets (name, value, created_at) VALUES ('`+legacySecretName+`', '\x`+hex.EncodeToString(legacyRoot)+`', now())`)
	_, err := appWith(t, db)
	if err == nil || !strings.Contains(err.Error(), "export-root") {
		t.Errorf("PostgreSQL with the key still in the database: %v, want directions to export-root", err)
	}
	var u usageError
	if errors.As(err, &u) {
		t.Errorf("that error is a usage error; want exit status 1")
	}

	c := &cli{t: t, db: db, env: map[string]string{}}
	file := filepath.Join(t.TempDir(), "root.key")
	c.mustRun("keys", "export-root", "--secret-file", file)
	if got, err := os.ReadFile(file); err != nil || !bytes.Equal(got, legacyRoot) {
		t.Errorf("export-root wrote %q, %v; want the database's key", got, err)
	}
	if _, _, err := c.run("keys", "export-root", "--secret-file", file); err == nil {
		t.Error("export-root again = nil error, want: nothing left to move")
	}
	a, err := appWith(t, db, "--secret-file", file)
	if err != nil {
		t.Fatalf("start with --secret-file after export-root: %v", err)
	}
	stillSignedIn(t, a, access, refresh)
}
