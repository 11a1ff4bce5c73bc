package auth

import (
	"context"
	"log/slog"
)

// A backend's Store may offer more than the Store interface: the
// interfaces below name each extra, and cmd wires whatever the opened
// store implements. A new backend therefore needs no edit in cmd beyond
// the URL scheme that opens it; one that implements none of them still
// works, on this process's counters and without a change feed, which is
// right for a database only one process uses.

// SharedCounterStore is a Store whose database can keep the rate-limit
// counts for every node that shares it. Without one (and without Redis)
// counts live in each process, which only a single node may rely on.
type SharedCounterStore interface {
	SharedCounter() Counter
}

// FeedStore is a Store that can report the session changes other
// processes commit to it, which is what lets a node trust its session
// cache (Service.SetFeedHealthy).
type FeedStore interface {
	// FollowChanges reports every committed change to sink, in commit
	// order, until ctx ends. It reports the feed unhealthy whenever
	// changes may be missed and healthy once it is caught up again; it
	// reports unhealthy when it returns.
	FollowChanges(ctx context.Context, sink FeedSink, log *slog.Logger)
}

// FeedSink is what a change feed reports to: a Service.
type FeedSink interface {
	SessionChanged(id string, gen int64, revoked bool)
	SetFeedHealthy(healthy bool)
}

var _ FeedSink = (*Service)(nil)

// DiskStore is a Store whose files are on this host's disk, where running
// out of room is this node's problem: /readyz and the metrics watch it.
type DiskStore interface {
	// FreeBytes is the space left to the store on its file system.
	FreeBytes() (uint64, error)
}

// ChangeLogPruner is a Store whose change log (ChangeLog, the revocation
// stream's source) must be trimmed by a serving node's pruner; a store
// that trims its own log as it follows it (SQLite) needs none.
type ChangeLogPruner interface {
	PruneSessionChanges(ctx context.Context) error
}
