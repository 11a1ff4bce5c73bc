package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// Counter is an auth.Counter on the counters table: one count per key,
// shared by every node on the database, so N nodes enforce one summed
// limit.
//
// Windows are timed by the database server's clock (statement_timestamp()),
// not by the nodes'. With node clocks, a node whose clock runs ahead would
// see every window as over and restart it: an attacker who reaches that
// node would get a fresh allowance each time. One clock makes every node
// agree on when a window ends; the price is that a test cannot inject a
// clock and has to use short windows.
type Counter struct {
	pool  *pgxpool.Pool
	calls atomic.Uint64 // Incr calls, to pace the sweep of expired rows
}

var _ auth.Counter = (*Counter)(nil)

// Counter returns the auth.Counter on s's database.
func (s *Store) Counter() *Counter { return &Counter{pool: s.pool} }

// sweepEvery is how many Incr calls pass between two opportunistic
// deletions of expired rows, and sweepBatch how many rows one deletes at
// most: cheap on the request path, yet faster than keys expire at any
// plausible rate (a key is one account, address or route).
const (
	sweepEvery = 1000
	sweepBatch = 1000
)

// Incr adds one to key's count and returns the new count and when the
// current window ends. A window starts at the first Incr after the
// previous one ended and lasts window. One upsert, so concurrent Incrs on
// any nodes never lose a count: the row lock orders them.
func (c *Counter) Incr(ctx context.Context, key string, window time.Duration) (int64, time.Time, error) {
	if window < time.Microsecond {
		return 0, time.Time{}, fmt.Errorf("postgres: incr %q: window %v is below the database's microsecond resolution", key, window)
	}
	if c.calls.Add(1)%sweepEvery == 0 {
		// Garbage collection only: whether it works changes no count
		// (an expired row counts as absent), so its error is dropped;
		// a database failure shows up in the upsert below anyway.
		_, _ = c.deleteExpired(ctx, sweepBatch)
	}
	// statement_timestamp() is one value for the whole statement, so the
	// two CASEs cannot disagree about whether the window is over.
	var count int64
	var resetAt time.Time
	err := c.pool.QueryRow(ctx, `INSERT INTO counters AS c (key, count, reset_at)
		VALUES ($1, 1, statement_timestamp() + $2 * interval '1 microsecond')
		ON CONFLICT (key) DO UPDATE SET
			count = CASE WHEN c.reset_at <= statement_timestamp() THEN 1 ELSE c.count + 1 END,
			reset_at = CASE WHEN c.reset_at <= statement_timestamp() THEN excluded.reset_at ELSE c.reset_at END
		RETURNING count, reset_at`,
		key, window.Microseconds()).Scan(&count, timeCol{&resetAt})
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("postgres: incr %q: %w", key, err)
	}
	return count, resetAt, nil
}

// Count returns key's count in its current window and when that ends, or
// 0 and the zero time if it has none.
func (c *Counter) Count(ctx context.Context, key string) (int64, time.Time, error) {
	var count int64
	var resetAt time.Time
	err := c.pool.QueryRow(ctx, `SELECT count, reset_at FROM counters
		WHERE key = $1 AND reset_at > statement_timestamp()`, key).Scan(&count, timeCol{&resetAt})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("postgres: count %q: %w", key, err)
	}
	return count, resetAt, nil
}

// Reset forgets key.
func (c *Counter) Reset(ctx context.Context, key string) error {
	if _, err := c.pool.Exec(ctx, `DELETE FROM counters WHERE key = $1`, key); err != nil {
		return fmt.Errorf("postgres: reset %q: %w", key, err)
	}
	return nil
}

// DeleteExpired deletes every row whose window has ended, in batches, and
// returns how many it deleted. Incr already does this a little at a time;
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

// deleteExpired deletes up to limit expired rows, oldest first. SKIP
// LOCKED: a row that an Incr holds is live, and nobody should wait on the
// sweep.
func (c *Counter) deleteExpired(ctx context.Context, limit int) (int64, error) {
	tag, err := c.pool.Exec(ctx, `DELETE FROM counters WHERE key IN (
			SELECT key FROM counters
			WHERE reset_at <= statement_timestamp()
			ORDER BY reset_at
			LIMIT $1
			FOR UPDATE SKIP LOCKED)`, limit)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}
