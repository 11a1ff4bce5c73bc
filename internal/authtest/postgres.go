package authtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresURLEnv names the PostgreSQL server of the integration tests: a
// postgres:// URL of a role that may create databases, e.g.
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const PostgresURLEnv = "GATEHOUSE_TEST_POSTGRES_URL"

// PostgresDatabase creates an empty database for tb and returns its URL (the
// server's URL with the database name replaced). A crashed run can leave
// gh_test_* databases behind; they are safe to drop.
func PostgresDatabase(tb testing.TB) string {
	tb.Helper()
	serverURL := RequireService(tb, PostgresURLEnv)
	u, err := url.Parse(serverURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		tb.Fatalf("%s = %q: want a postgres:// URL", PostgresURLEnv, serverURL)
	}
	var b [8]byte
	rand.Read(b[:])
	name := "gh_test_" + hex.EncodeToString(b[:]) // a safe identifier as is
	AdminExec(tb, serverURL, "CREATE DATABASE "+name)
	tb.Cleanup(func() { AdminExec(tb, serverURL, "DROP DATABASE "+name+" WITH (FORCE)") })
	u.Path = "/" + name
	return u.String()
}

// AdminExec runs one statement on a connection of its own: CREATE and DROP
// DATABASE cannot run in a transaction or from the database they name.
func AdminExec(tb testing.TB, serverURL, sql string) {
	tb.Helper()
	// Not tb.Context(): it is already canceled when cleanups run.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		tb.Fatalf("connect to %s: %v", PostgresURLEnv, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}
