package main

import (
	"context"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/sqlite"
)

// openStore opens (creating and migrating) the database named by dsn.
func openStore(ctx context.Context, dsn string) (auth.Store, error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == "" {
			return nil, usagef("--db: sqlite: needs a file path, as in sqlite:gatehouse.db")
		}
		return sqlite.Open(ctx, path)
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return nil, usagef("--db: PostgreSQL is not supported by this build yet")
	}
	return nil, usagef("--db: %q is neither sqlite:PATH nor a postgres:// URL", redactDSN(dsn))
}

// redactDSN hides a password in a database URL before it is printed.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	return u.Redacted()
}
