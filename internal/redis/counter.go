package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// Counter is an auth.Counter on Redis: one integer key per count, whose
// expiry is the end of its window. Every node on the same server and prefix
// shares the counts.
//
// Windows are timed by the Redis server's clock (key expiry), not the
// nodes', for the reason postgres.Counter gives: nodes whose clocks
// disagree would disagree about when a window ends, and the fast one would
// hand out fresh allowances. Only the remaining time crosses the wire, so
// resetAt is this node's clock plus the key's remaining TTL, read when the
// reply arrives: it may be late by up to a round trip, never early, so a
// client that waits out Retry-After is not refused for coming back too soon.
//
// Failures (Redis down, unreachable, timing out) are returned as plain
// errors, which the service answers with 503. Rate limits therefore fail
// closed: during a Redis outage nobody can sign in, register or refresh on
// a node configured with Redis. That is deliberate. Failing open would
// switch off the per-IP budgets and the per-account back-off exactly when
// an attacker can cause it, by flooding Redis, turning an outage into an
// unthrottled password-guessing window; closed, an outage costs
// availability, which Redis replication or a restart restores, and never
// security. Requests that carry a valid access token are unaffected, since
// checking one counts nothing; refreshing one does count, so in a long
// outage sessions lapse as their access tokens expire.
type Counter struct {
	client      *goredis.Client
	prefix      string
	incr, count *goredis.Script
}

var _ auth.Counter = (*Counter)(nil)

// NewCounter returns a Counter whose keys in Redis are prefix followed by
// the caller's key, so that several deployments, and tests, can share one
// server without sharing counts. Give each deployment its own prefix,
// e.g. "gatehouse:". The client stays the caller's to close.
func NewCounter(client *goredis.Client, prefix string) *Counter {
	return &Counter{
		client: client,
		prefix: prefix,
		incr:   goredis.NewScript(incrLua),
		count:  goredis.NewScript(countLua),
	}
}

// incrLua adds one to KEYS[1] and returns the new count and the
// milliseconds left in its window, starting a window of ARGV[1] ms when the
// key is new (or has expired, which to Redis is the same).
//
// Why a script: INCR and PEXPIRE must be one step. Sent as two commands, a
// node that dies between them, or a connection that drops, leaves a key
// with no expiry: a count that never ends, an address or account blocked
// for good. A script runs atomically, and in one round trip: EVALSHA sends
// only the script's hash (the source goes once more after a Redis restart,
// when EVALSHA is answered NOSCRIPT). The alternative, SET key 0 NX PX
// window then INCR then PTTL, is as good only inside MULTI/EXEC: pipelined
// without it, the key can expire between the SET that found it and the
// INCR, which then creates it with no expiry. The script says it in fewer
// words, and also repairs a key that lost its expiry some other way (a
// PERSIST, a hand-made SET): the key gets this window rather than counting
// forever.
//
// PEXPIRE only when the key is new, never on every call: that would make
// the window slide, and a client retrying steadily just inside its budget,
// or over it, would never see it reset.
const incrLua = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then
	redis.call('PEXPIRE', KEYS[1], ARGV[1])
	return {n, tonumber(ARGV[1])}
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
	redis.call('PEXPIRE', KEYS[1], ARGV[1])
	ttl = tonumber(ARGV[1])
end
return {n, ttl}
`

// countLua returns KEYS[1]'s count and the milliseconds left in its
// window, or {0, -2} if it has none. A script rather than GET and PTTL
// pipelined: the key could expire between the two.
const countLua = `
local v = redis.call('GET', KEYS[1])
if not v then
	return {0, -2}
end
local n = tonumber(v)
if not n then
	return redis.error_reply('ERR value is not an integer')
end
return {n, redis.call('PTTL', KEYS[1])}
`

// Incr adds one to key's count and returns the new count and when the
// current window ends. A window starts at the first Incr after the
// previous one ended and lasts window, to the millisecond. Concurrent
// Incrs on any nodes never lose a count: Redis runs scripts one at a time.
//
// A connection found broken (not merely slow) after the script was sent is
// retried once, so in rare failures one event counts twice: the safe
// direction for a limit.
func (c *Counter) Incr(ctx context.Context, key string, window time.Duration) (int64, time.Time, error) {
	if window < time.Millisecond {
		return 0, time.Time{}, fmt.Errorf("redis: incr %q: window %v is below Redis's millisecond resolution", key, window)
	}
	r, err := c.incr.Run(ctx, c.client, []string{c.prefix + key}, window.Milliseconds()).Int64Slice()
	now := time.Now()
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("redis: incr %q: %w", key, err)
	}
	if len(r) != 2 {
		return 0, time.Time{}, fmt.Errorf("redis: incr %q: script returned %d values, want 2", key, len(r))
	}
	return r[0], now.Add(time.Duration(r[1]) * time.Millisecond).UTC(), nil
}

// Count returns key's count in its current window and when that ends, or 0
// and the zero time if it has none.
func (c *Counter) Count(ctx context.Context, key string) (int64, time.Time, error) {
	r, err := c.count.Run(ctx, c.client, []string{c.prefix + key}).Int64Slice()
	now := time.Now()
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("redis: count %q: %w", key, err)
	}
	if len(r) != 2 {
		return 0, time.Time{}, fmt.Errorf("redis: count %q: script returned %d values, want 2", key, len(r))
	}
	n, ttl := r[0], r[1]
	switch {
	case ttl == -2:
		return 0, time.Time{}, nil
	case ttl < 0:
		// No expiry: not written by Incr, which the next Incr repairs.
		// Count it, and let the window look over now.
		return n, now.UTC(), nil
	}
	return n, now.Add(time.Duration(ttl) * time.Millisecond).UTC(), nil
}

// Reset forgets key.
func (c *Counter) Reset(ctx context.Context, key string) error {
	if err := c.client.Del(ctx, c.prefix+key).Err(); err != nil {
		return fmt.Errorf("redis: reset %q: %w", key, err)
	}
	return nil
}
