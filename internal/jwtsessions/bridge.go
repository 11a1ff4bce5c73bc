package jwtsessions

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// Bridge keeps the gem's access records in a Redis in step with the access
// tokens Gatehouse issues, for as long as Rails services still authorize
// requests with the gem (authorize_access_request! looks each token's uid
// up there): every token Gatehouse issues gets its record, with the
// session's CSRF secret and EXPIREAT its exp, and every token it stops
// accepting loses it. It is a temporary bridge for a migration, off unless
// configured.
//
// Order. What Gatehouse stops accepting is read from the session change
// log (auth.Service.AccessTokenChanges), in the log's order, and applied
// by a Lua script that also moves a position kept in that Redis, only if
// the position is still the one the batch was read after: whichever node
// gets there first applies a batch, exactly once, and every node's
// bridge follows the same order as the change feed. New sessions are not
// in the log; the node that created one writes its record (from the audit
// event), unless a revocation of the session was applied already, which
// leaves a marker for as long as the session's tokens could live.
//
// Failure. If the Redis is unreachable, serving goes on: the log keeps
// what the bridge has not applied (the backlog), and the bridge catches up
// when the Redis is back. New sessions wait in a bounded queue; beyond it
// they are dropped and counted, and such a token gets its record at its
// first refresh.
type Bridge struct {
	svc    *auth.Service
	client goredis.UniversalClient
	prefix string
	log    *slog.Logger
	fresh  chan string // ids of new sessions
	wake   chan struct{}

	backlog  atomic.Int64 // log entries read but not applied, plus queued new sessions
	failures atomic.Int64
}

// Bridge tuning.
const (
	bridgeBatch    = 500
	freshQueue     = 10_000
	bridgeRetry    = time.Second
	bridgePoll     = time.Second
	positionSuffix = "_gatehouse_bridge_position"
	revokedInfix   = "_gatehouse_revoked_"
)

// NewBridge returns a bridge writing records under prefix (the gem's
// token_prefix). Run it, and pass it the audit events (Event).
func NewBridge(svc *auth.Service, client goredis.UniversalClient, prefix string, log *slog.Logger) *Bridge {
	return &Bridge{svc: svc, client: client, prefix: prefix, log: log,
		fresh: make(chan string, freshQueue), wake: make(chan struct{}, 1)}
}

// Backlog is how many changes wait to be written: log entries read but not
// applied and new sessions queued (a metric).
func (b *Bridge) Backlog() int64 { return b.backlog.Load() + int64(len(b.fresh)) }

// Failures counts failed writes to the Redis and new sessions dropped
// because the queue was full (a metric).
func (b *Bridge) Failures() int64 { return b.failures.Load() }

// Event takes the audit trail: a session that starts (sign-in,
// registration, password reset) gets its record. It never blocks.
func (b *Bridge) Event(e auth.Event) {
	if e.SessionID == "" || e.Type != auth.EventSignedIn && e.Type != auth.EventRegistered {
		return
	}
	select {
	case b.fresh <- e.SessionID:
		b.poke()
	default:
		b.failures.Add(1)
	}
}

func (b *Bridge) poke() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// Run applies changes until ctx ends.
func (b *Bridge) Run(ctx context.Context) {
	for ctx.Err() == nil {
		changed := b.svc.Changed()
		err := b.drainFresh(ctx)
		if err == nil {
			var more bool
			more, err = b.followLog(ctx)
			if err == nil && more {
				continue
			}
		}
		wait := bridgePoll
		if err != nil && ctx.Err() == nil {
			b.failures.Add(1)
			b.log.Warn("jwt_sessions bridge: will retry", "err", err)
			wait = bridgeRetry
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-changed:
		case <-b.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// drainFresh writes the records of queued new sessions; on an error the
// session is queued again (at the back: the order among new sessions does
// not matter, each has its own record).
func (b *Bridge) drainFresh(ctx context.Context) error {
	for {
		var id string
		select {
		case id = <-b.fresh:
		default:
			return nil
		}
		if err := b.writeFresh(ctx, id); err != nil {
			select {
			case b.fresh <- id:
			default:
				b.failures.Add(1)
			}
			return err
		}
	}
}

func (b *Bridge) writeFresh(ctx context.Context, id string) error {
	tok, ok, err := b.svc.NewSessionToken(ctx, id)
	if err != nil || !ok {
		return err
	}
	return freshScript.Run(ctx, b.client, []string{accessKey(b.prefix, tok.UID), b.revokedKey(id)},
		encodeCSRF(tok.CSRFSecret), tok.Exp.Unix()).Err()
}

func (b *Bridge) revokedKey(sessionID string) string { return b.prefix + revokedInfix + sessionID }

// followLog applies the next batch of the change log; more reports a full
// batch (more may be waiting).
func (b *Bridge) followLog(ctx context.Context) (more bool, err error) {
	posKey := b.prefix + positionSuffix
	pos, err := b.client.Get(ctx, posKey).Int64()
	if errors.Is(err, goredis.Nil) {
		pos, err = 0, nil
	}
	if err != nil {
		return false, err
	}
	changes, err := b.svc.AccessTokenChanges(ctx, pos, bridgeBatch)
	if errors.Is(err, auth.ErrPositionExpired) {
		// The log was pruned past this position while the Redis was
		// away: what was missed cannot be replayed. Records it would have
		// deleted expire with their tokens (at most --access-ttl).
		b.failures.Add(1)
		b.log.Error("jwt_sessions bridge: the change log moved on while the bridge was behind; restarting from its oldest entry")
		changes, err = b.svc.AccessTokenChanges(ctx, 0, bridgeBatch)
	}
	if err != nil || len(changes) == 0 {
		return false, err
	}
	b.backlog.Store(int64(len(changes)))
	args := []any{pos, changes[len(changes)-1].Seq}
	for _, c := range changes {
		args = append(args, b.ops(c)...)
	}
	found, err := applyScript.Run(ctx, b.client, []string{posKey}, args...).Text()
	if err != nil {
		return false, err
	}
	b.backlog.Store(0)
	// Another node applied this batch first: go on from where it got.
	lost := found != strconv.FormatInt(changes[len(changes)-1].Seq, 10)
	return lost || len(changes) == bridgeBatch, nil
}

// ops are the script's operations for one change, four arguments each:
// verb, key, value, Unix time.
func (b *Bridge) ops(c auth.AccessTokenChange) []any {
	var ops []any
	if c.Revoked != nil {
		for _, uid := range c.Revoked {
			ops = append(ops, "del", accessKey(b.prefix, uid), "", 0)
		}
		return append(ops, "set", b.revokedKey(c.SessionID), "1", c.RevokedUntil.Unix())
	}
	if c.PreviousUID != "" {
		// EXPIREAT in the past deletes; on a missing key it does nothing.
		ops = append(ops, "expire", accessKey(b.prefix, c.PreviousUID), "", c.PreviousUntil.Unix())
	}
	return append(ops, "set", accessKey(b.prefix, c.Current.UID), encodeCSRF(c.Current.CSRFSecret), c.Current.Exp.Unix())
}

// applyScript applies a batch of operations if the position (KEYS[1]) is
// still ARGV[1], then moves it to ARGV[2]; it returns the position it
// found. "set" is the gem's persist_access (SET, then EXPIREAT).
var applyScript = goredis.NewScript(`
local cur = redis.call('GET', KEYS[1]) or '0'
if cur ~= ARGV[1] then return cur end
for i = 3, #ARGV, 4 do
	local verb, key, value, at = ARGV[i], ARGV[i+1], ARGV[i+2], ARGV[i+3]
	if verb == 'set' then
		redis.call('SET', key, value)
		redis.call('EXPIREAT', key, at)
	elseif verb == 'expire' then
		redis.call('EXPIREAT', key, at)
	else
		redis.call('DEL', key)
	end
end
redis.call('SET', KEYS[1], ARGV[2])
return ARGV[2]
`)

// freshScript writes a new session's access record (KEYS[1]) as
// persist_access does, unless its revocation was applied already (KEYS[2]).
var freshScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('EXPIREAT', KEYS[1], ARGV[2])
return 1
`)
