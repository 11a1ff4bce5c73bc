package main

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/postgres"
	"github.com/gatehouse/gatehouse/internal/redis"
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
	case isPostgres(dsn):
		return postgres.Open(ctx, dsn)
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

func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// newCounter picks where rate-limit counts live: Redis when configured,
// else the database when several nodes share it (auth.SharedCounterStore),
// else this process. Nil when rate limits are off.
func newCounter(ctx context.Context, cfg *Config, store auth.Store) (auth.Counter, func() error, error) {
	noop := func() error { return nil }
	switch {
	case !cfg.RateLimit:
		return nil, noop, nil
	case cfg.Redis != "":
		client, err := redis.Open(ctx, cfg.Redis)
		if err != nil {
			return nil, noop, err
		}
		return redis.NewCounter(client, "gatehouse:"), client.Close, nil
	}
	if sc, ok := store.(auth.SharedCounterStore); ok {
		return sc.SharedCounter(), noop, nil
	}
	return auth.NewMemoryCounter(nil, auth.DefaultMemoryCounterKeys), noop, nil
}

// startFeed connects svc to the store's change feed (auth.FeedStore), if
// it has one, and returns a function that stops it. Until the feed reports
// healthy the service trusts no cache: a node that just started cannot
// know what it missed.
func startFeed(store auth.Store, svc *auth.Service, log *slog.Logger) (stop func()) {
	feed, ok := store.(auth.FeedStore)
	if !ok {
		return func() {}
	}
	svc.SetFeedHealthy(false)
	return background(func(ctx context.Context) { feed.FollowChanges(ctx, svc, log) })
}

// Ended sessions are kept this long (for the session list's history and
// for investigating an incident), finished mails (sent, dropped, failed:
// each names its recipient) this long for inspecting delivery, then every
// node's pruner deletes them; the work is idempotent, so several nodes
// pruning at once is harmless.
const (
	endedSessionRetention = 7 * 24 * time.Hour
	finishedMailRetention = 30 * 24 * time.Hour
	pruneInterval         = time.Hour
	pruneBatch            = 10_000
)

// pruneBatches runs del, which deletes up to pruneBatch rows of what it
// names, until a batch comes back short, so no transaction holds the
// writer for long.
func pruneBatches(ctx context.Context, log *slog.Logger, what string, del func(context.Context) (int64, error)) {
	var total int64
	for {
		n, err := del(ctx)
		total += n
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("pruning "+what, "err", err)
			}
			break
		}
		if n < pruneBatch {
			break
		}
	}
	if total > 0 {
		log.Info("pruned "+what, "count", total)
	}
}

// pruneEndedSessions deletes the sessions that ended before the retention.
func pruneEndedSessions(ctx context.Context, store auth.Store, log *slog.Logger) {
	pruneBatches(ctx, log, "ended sessions", func(ctx context.Context) (int64, error) {
		return store.DeleteEndedSessions(ctx, time.Now().Add(-endedSessionRetention), pruneBatch)
	})
}

// pruneFinishedMails deletes the mails finished before the retention.
func pruneFinishedMails(ctx context.Context, store auth.Store, log *slog.Logger) {
	pruneBatches(ctx, log, "finished mails", func(ctx context.Context) (int64, error) {
		return store.DeleteFinishedMails(ctx, time.Now().Add(-finishedMailRetention), pruneBatch)
	})
}

// startPruner deletes ended sessions now and every pruneInterval, in
// batches so no transaction holds the writer for long, and returns a
// function that stops it.
func startPruner(store auth.Store, log *slog.Logger) (stop func()) {
	return background(func(ctx context.Context) {
		tick := time.NewTicker(pruneInterval)
		defer tick.Stop()
		for {
			pruneEndedSessions(ctx, store, log)
			pruneFinishedMails(ctx, store, log)
			if p, ok := store.(auth.ChangeLogPruner); ok {
				if err := p.PruneSessionChanges(ctx); err != nil && ctx.Err() == nil {
					log.Warn("pruning the session change log", "err", err)
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
}
