package postgres

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// Counter is an auth.Counter on the counters table (rate windows and
// back-offs, one row per key) and counter_slots (one row per in-flight
// holder), shared by every node on the database, so N nodes enforce one
// budget. Admit and Settle are one statement each.
//
// Windows are timed by the database server's clock (statement_timestamp()),
// not by the nodes'. With node clocks, a node whose clock runs ahead would
// see every window as over and restart it: an attacker who reaches that
// node would get a fresh allowance each time. One clock makes every node
// agree on when a window ends; the price is that a test cannot inject a
// clock and has to use short windows.
type Counter struct {
	pool  *pgxpool.Pool
	calls atomic.Uint64 // Admit calls, to pace the sweep of expired rows
}

var _ auth.Counter = (*Counter)(nil)

// Counter returns the auth.Counter on s's database.
func (s *Store) Counter() *Counter { return &Counter{pool: s.pool} }

// SharedCounter is Counter as the store's auth.SharedCounterStore: every
// node on this database shares its counts.
func (s *Store) SharedCounter() auth.Counter { return s.Counter() }

// sweepEvery is how many Admit calls pass between two opportunistic
// deletions of expired rows, and sweepBatch how many rows one deletes at
// most: cheap on the request path, yet faster than keys expire at any
// plausible rate (a key is one account, address or route).
const (
	sweepEvery = 1000
	sweepBatch = 1000
)

// Admit implements auth.Counter in one statement: the counter_admit
// function of migration 0004.
func (c *Counter) Admit(ctx context.Context, a auth.Admission) (auth.Decision, error) {
	if c.calls.Add(1)%sweepEvery == 0 {
		// Garbage collection only: whether it works changes no budget
		// (an expired row counts as absent), so its error is dropped; a
		// database failure shows up in the admission below anyway.
		_, _ = c.deleteExpired(ctx, sweepBatch)
	}
	var rk, bk, sk []string
	var rl, rw, bf, bm, bmem, sm []int64
	for _, r := range a.Rates {
		rk, rl, rw = append(rk, r.Key), append(rl, r.Limit), append(rw, r.Window.Microseconds())
	}
	for _, b := range a.Backoffs {
		bk, bf = append(bk, b.Key), append(bf, b.Free)
		bm, bmem = append(bm, b.MaxDelay.Microseconds()), append(bmem, b.Memory.Microseconds())
	}
	for _, s := range a.Slots {
		sk, sm = append(sk, s.Key), append(sm, s.Max)
	}
	var wait int64
	err := c.pool.QueryRow(ctx, `SELECT counter_admit($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		rk, rl, rw, bk, bf, bm, bmem, sk, sm, a.Holder, a.SlotTTL.Microseconds()).Scan(&wait)
	if err != nil {
		return auth.Decision{}, fmt.Errorf("postgres: admit: %w", err)
	}
	if wait > 0 {
		return auth.Decision{RetryAfter: time.Duration(wait) * time.Microsecond}, nil
	}
	return auth.Decision{Admitted: true}, nil
}

// Settle implements auth.Counter in one statement.
func (c *Counter) Settle(ctx context.Context, s auth.Settlement) error {
	if len(s.Clear)+len(s.Release) == 0 {
		return nil
	}
	_, err := c.pool.Exec(ctx, `WITH cleared AS (DELETE FROM counters WHERE key = ANY($1))
		DELETE FROM counter_slots WHERE key = ANY($2) AND holder = $3`, s.Clear, s.Release, s.Holder)
	if err != nil {
		return fmt.Errorf("postgres: settle: %w", err)
	}
	return nil
}

// DeleteExpired deletes every row whose window has ended, in batches, and
// returns how many it deleted. Admit already does this a little at a time;
// this is for a periodic job or the CLI.
func (c *Counter) DeleteExpired(ctx context.Context) (int64, error) {
	var total int64
	for {
		n, err := c.deleteExpired(ctx, sweepBatch)
		total += n
		if err != nil {
			return total, fmt.Errorf("postgres: delete expired counters: %w", err)
		}
		if n < sweepBatch {
			return total, nil
		}
	}
}

// deleteExpired deletes up to limit expired rows of counters and of
// counter_slots (a slot whose node died), oldest first. SKIP LOCKED: a
// row that an admission holds is live, and nobody should wait on the
// sweep.
func (c *Counter) deleteExpired(ctx context.Context, limit int) (int64, error) {
	var n int64
	err := c.pool.QueryRow(ctx, `WITH slots AS (
			DELETE FROM counter_slots WHERE (key, holder) IN (
				SELECT key, holder FROM counter_slots
				WHERE expires_at <= statement_timestamp()
				ORDER BY expires_at
				LIMIT $1
				FOR UPDATE SKIP LOCKED)
			RETURNING 1),
		counts AS (
			DELETE FROM counters WHERE key IN (
				SELECT key FROM counters
				WHERE reset_at <= statement_timestamp()
				ORDER BY reset_at
				LIMIT $1
				FOR UPDATE SKIP LOCKED)
			RETURNING 1)
		SELECT greatest((SELECT count(*) FROM slots), (SELECT count(*) FROM counts))`, limit).Scan(&n)
	return n, err
}
