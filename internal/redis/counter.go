package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// Counter is an auth.Counter on Redis: a rate window is an integer key
// whose expiry is the end of its window, a back-off a hash {n, until}
// whose expiry is when it is forgotten, and the slots of a key a sorted
// set of holders scored by when each slot frees itself. Every node on the
// same server and prefix shares them. Admit is one script, Settle one
// pipeline: one round trip each.
//
// Windows are timed by the Redis server's clock (key expiry), not the
// nodes', for the reason postgres.Counter gives: nodes whose clocks
// disagree would disagree about when a window ends, and the fast one would
// hand out fresh allowances. Only the remaining time crosses the wire, so
// a refusal's wait is counted from the reply's arrival: it may be late by up
// to a round trip, never early, so a client that waits out Retry-After is
// not refused for coming back too soon.
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
	client *goredis.Client
	prefix string
	admit  *goredis.Script
}

var _ auth.Counter = (*Counter)(nil)

// NewCounter returns a Counter whose keys in Redis are prefix followed by
// the caller's key, so that several deployments, and tests, can share one
// server without sharing counts. Give each deployment its own prefix,
// e.g. "gatehouse:". The client stays the caller's to close.
func NewCounter(client *goredis.Client, prefix string) *Counter {
	return &Counter{client: client, prefix: prefix, admit: goredis.NewScript(admitLua)}
}

// admitLua is auth.Counter's Admit: KEYS are the rate, back-off and slot
// keys in that order; ARGV their numbers of each, the holder, the slot
// TTL (ms), then per rate its limit and window (ms), per back-off its
// free count, maximum delay and memory (ms), per slot its maximum. It
// returns 0 if admitted, else the wait in ms.
//
// A script because the check and the take must be one step on every node
// (EVALSHA sends only the script's hash; the source goes once more after a
// Redis restart). Times are the server's (TIME), so nodes whose clocks
// disagree still agree on when a window or block ends. A window's expiry
// is set when it starts and never moved, or it would slide and a client
// retrying steadily would never see it reset; a key found without one
// (a PERSIST, a hand-made SET) is given one rather than counting forever.
const admitLua = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nr, nb, ns = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local holder, slotTTL = ARGV[4], tonumber(ARGV[5])
local ra, ba, sa = 6, 6 + 2 * nr, 6 + 2 * nr + 3 * nb
local wait = 0
for i = 1, nr do
	local k = KEYS[i]
	local n = tonumber(redis.call('GET', k) or '0')
	if n >= tonumber(ARGV[ra + 2 * (i - 1)]) then
		wait = math.max(wait, redis.call('PTTL', k), 1)
	end
end
for i = 1, nb do
	local u = tonumber(redis.call('HGET', KEYS[nr + i], 'until') or '0')
	if u > now then
		wait = math.max(wait, u - now)
	end
end
for i = 1, ns do
	local k = KEYS[nr + nb + i]
	redis.call('ZREMRANGEBYSCORE', k, '-inf', now)
	if redis.call('ZCARD', k) >= tonumber(ARGV[sa + i - 1]) then
		wait = math.max(wait, 1000)
	end
end
if wait > 0 then
	return wait
end
for i = 1, nr do
	local k = KEYS[i]
	local n = redis.call('INCR', k)
	if n == 1 or redis.call('PTTL', k) < 0 then
		redis.call('PEXPIRE', k, ARGV[ra + 2 * (i - 1) + 1])
	end
end
for i = 1, nb do
	local k = KEYS[nr + i]
	local o = ba + 3 * (i - 1)
	local free, maxDelay = tonumber(ARGV[o]), tonumber(ARGV[o + 1])
	local n = redis.call('HINCRBY', k, 'n', 1)
	if n == 1 or redis.call('PTTL', k) < 0 then
		redis.call('PEXPIRE', k, ARGV[o + 2])
	end
	if n > free then
		-- auth.BackoffDelay: 1 s doubling past free, capped; only extended.
		local d = maxDelay
		if n - free - 1 < 32 then
			d = math.min(1000 * 2 ^ (n - free - 1), maxDelay)
		end
		local u = math.max(tonumber(redis.call('HGET', k, 'until') or '0'), now + d)
		redis.call('HSET', k, 'until', string.format('%d', u))
		if redis.call('PTTL', k) < u - now then
			redis.call('PEXPIRE', k, string.format('%d', u - now))
		end
	end
end
for i = 1, ns do
	local k = KEYS[nr + nb + i]
	redis.call('ZADD', k, now + slotTTL, holder)
	redis.call('PEXPIRE', k, slotTTL)
end
return 0
`

// Admit implements auth.Counter in one script run.
//
// Failures (Redis down, unreachable, timing out) are returned as errors,
// which the service answers with 503: limits fail closed, see Counter.
func (c *Counter) Admit(ctx context.Context, a auth.Admission) (auth.Decision, error) {
	keys := make([]string, 0, len(a.Rates)+len(a.Backoffs)+len(a.Slots))
	args := []any{len(a.Rates), len(a.Backoffs), len(a.Slots), a.Holder, ms(a.SlotTTL)}
	for _, r := range a.Rates {
		keys = append(keys, c.prefix+r.Key)
		args = append(args, r.Limit, ms(r.Window))
	}
	for _, b := range a.Backoffs {
		keys = append(keys, c.prefix+b.Key)
		args = append(args, b.Free, ms(b.MaxDelay), ms(b.Memory))
	}
	for _, s := range a.Slots {
		keys = append(keys, c.prefix+s.Key)
		args = append(args, s.Max)
	}
	wait, err := c.admit.Run(ctx, c.client, keys, args...).Int64()
	if err != nil {
		return auth.Decision{}, fmt.Errorf("redis: admit: %w", err)
	}
	if wait > 0 {
		return auth.Decision{RetryAfter: time.Duration(wait) * time.Millisecond}, nil
	}
	return auth.Decision{Admitted: true}, nil
}

// ms is d in Redis's milliseconds, at least one: a zero expiry would be
// an error, a zero window no window.
func ms(d time.Duration) int64 { return max(d.Milliseconds(), 1) }

// Settle implements auth.Counter in one pipelined round trip. Both
// commands are idempotent, so no script is needed.
func (c *Counter) Settle(ctx context.Context, s auth.Settlement) error {
	if len(s.Clear)+len(s.Release) == 0 {
		return nil
	}
	_, err := c.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		if len(s.Clear) > 0 {
			keys := make([]string, len(s.Clear))
			for i, k := range s.Clear {
				keys[i] = c.prefix + k
			}
			p.Del(ctx, keys...)
		}
		for _, k := range s.Release {
			p.ZRem(ctx, c.prefix+k, s.Holder)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis: settle: %w", err)
	}
	return nil
}
