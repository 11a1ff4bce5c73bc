package main

import (
	"context"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// analyzer refreshes the query planner's statistics; the SQLite and
// PostgreSQL stores have it. After a bulk load the planner's picture of the
// tables is stale until autovacuum comes round: PostgreSQL then plans the
// session-cap query of every sign-in as a scan over all live sessions
// (1.9x slower sign-ins at a million sessions).
type analyzer interface {
	Analyze(ctx context.Context) error
}

// analyze refreshes store's statistics if it can.
func analyze(ctx context.Context, store auth.Store) error {
	if a, ok := store.(analyzer); ok {
		return a.Analyze(ctx)
	}
	return nil
}
