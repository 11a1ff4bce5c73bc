// Package redis keeps Gatehouse's rate-limit and back-off counts on Redis
// (go-redis), so that several nodes share them: N nodes behind a load
// balancer enforce one summed per-IP budget and one per-account back-off,
// not N of each. Redis is optional; without it the counts live in
// PostgreSQL (several nodes) or in the process (one node).
//
// The counts are the only thing kept here. Losing them all (a restart of a
// Redis that persists nothing) forgives some failed sign-ins and restarts
// some windows; what must survive, an account lock, is in the database.
//
// Redis is deliberately not used for session revocation fan-out. That stays
// on PostgreSQL LISTEN/NOTIFY (postgres.Listener), which is transactional:
// the notification is delivered exactly when the revocation commits, and
// never for one that rolled back. A Redis PUBLISH can only follow the
// commit, and a crash or a network error between the two loses it, leaving
// other nodes trusting a revoked session until their caches expire. Pub/sub
// beside LISTEN/NOTIFY would add a second, weaker path to reason about, not
// a faster one.
package redis

import (
	"cmp"
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Connection defaults, for whatever the URL does not set. A rate-limit
// check sits on the path of every sign-in, so a sick Redis must fail a
// request within about two seconds rather than hold it: one dial attempt
// per try and a single retry, enough to replace a connection that a Redis
// restart killed while it sat in the pool.
const (
	dialTimeout  = 2 * time.Second
	ioTimeout    = time.Second // read and write, per command
	poolSize     = 10          // a counter call is ~0.1 ms; 10 connections carry tens of thousands a second
	maxRetries   = 1
	dialAttempts = 1
)

// Open connects to the Redis server at url, a redis:// or rediss:// URL
// (redis://[:password@]host:port/db, options as query parameters, e.g.
// ?dial_timeout=5s), and pings it, so a wrong address fails at start-up,
// not on the first sign-in. Close the client when done.
func Open(ctx context.Context, url string) (*goredis.Client, error) {
	opt, err := options(url)
	if err != nil {
		return nil, err
	}
	client := goredis.NewClient(opt)
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, fmt.Errorf("redis: open: ping %s: %w", opt.Addr, err)
	}
	return client, nil
}

// options parses url and fills in the defaults above for what it leaves
// unset. Errors never quote url, which may hold a password.
func options(url string) (*goredis.Options, error) {
	opt, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis: open: %w", err)
	}
	opt.DialTimeout = cmp.Or(opt.DialTimeout, dialTimeout)
	opt.ReadTimeout = cmp.Or(opt.ReadTimeout, ioTimeout)
	opt.WriteTimeout = cmp.Or(opt.WriteTimeout, ioTimeout)
	opt.PoolSize = cmp.Or(opt.PoolSize, poolSize)
	opt.MaxRetries = cmp.Or(opt.MaxRetries, maxRetries)
	opt.DialerRetries = cmp.Or(opt.DialerRetries, dialAttempts)
	// A request's own deadline, when it has a shorter one, bounds the wait
	// too.
	opt.ContextTimeoutEnabled = true
	return opt, nil
}
