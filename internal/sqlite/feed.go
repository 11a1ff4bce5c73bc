package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// changeLogKeep is how many session changes the log keeps. A follower
// that falls further behind than this (a process paused for a long time)
// notices the gap and starts over from an empty cache.
const changeLogKeep = 100_000

// Follow polls the session change log every interval and reports each
// change committed by any process on this database file — this one, the
// admin CLI, another server — to onChange, in commit order. onHealth(true)
// is reported once it is positioned at the end of the log; onHealth(false)
// when a poll fails or changes were pruned before it read them, then
// onHealth(true) again once it has caught up (a service empties its cache
// on that transition). It returns when ctx ends.
func (s *Store) Follow(ctx context.Context, interval time.Duration, onChange func(id string, gen int64, revoked bool), onHealth func(healthy bool)) {
	healthy := false
	setHealth := func(h bool) {
		if h != healthy {
			healthy = h
			onHealth(h)
		}
	}
	defer setHealth(false)
	last, err := s.lastChange(ctx)
	if err == nil {
		setHealth(true)
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	lastPrune := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if !healthy {
			// Start over from the end: the service reset its cache.
			if last, err = s.lastChange(ctx); err == nil {
				setHealth(true)
			}
			continue
		}
		next, gap, err := s.changesAfter(ctx, last, onChange)
		switch {
		case err != nil || gap:
			setHealth(false)
		default:
			last = next
		}
		if time.Since(lastPrune) > time.Minute {
			s.pruneChanges(ctx)
			lastPrune = time.Now()
		}
	}
}

func (s *Store) lastChange(ctx context.Context) (int64, error) {
	var seq int64
	err := s.reader.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM session_changes`).Scan(&seq)
	return seq, err
}

// changesAfter reports the changes after seq and returns the last seq
// seen. gap is true when the log no longer holds seq+1: it was pruned
// before this follower read it.
func (s *Store) changesAfter(ctx context.Context, seq int64, onChange func(string, int64, bool)) (last int64, gap bool, err error) {
	var oldest int64
	if err := s.reader.QueryRowContext(ctx, `SELECT coalesce(min(seq), 0) FROM session_changes`).Scan(&oldest); err != nil {
		return seq, false, fmt.Errorf("sqlite: read session changes: %w", err)
	}
	if oldest > seq+1 {
		return seq, true, nil
	}
	rows, err := s.reader.QueryContext(ctx, `SELECT seq, session_id, generation, revoked FROM session_changes
		WHERE seq > ? ORDER BY seq LIMIT 10000`, seq)
	if err != nil {
		return seq, false, fmt.Errorf("sqlite: read session changes: %w", err)
	}
	defer rows.Close()
	last = seq
	for rows.Next() {
		var (
			id      string
			gen     int64
			revoked bool
		)
		if err := rows.Scan(&last, &id, &gen, &revoked); err != nil {
			return seq, false, fmt.Errorf("sqlite: read session changes: %w", err)
		}
		onChange(id, gen, revoked)
	}
	return last, false, rows.Err()
}

// pruneChanges keeps the newest changeLogKeep changes.
func (s *Store) pruneChanges(ctx context.Context) {
	s.writer.ExecContext(ctx, `DELETE FROM session_changes
		WHERE seq <= (SELECT max(seq) FROM session_changes) - ?`, changeLogKeep)
}

// SessionChanges returns up to limit entries of the change log after
// position after (see auth.ChangeLog).
func (s *Store) SessionChanges(ctx context.Context, after int64, limit int) ([]auth.SessionChange, error) {
	// One read transaction, so the bounds and the rows are one snapshot.
	tx, err := s.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sqlite: read session changes: %w", err)
	}
	defer tx.Rollback()
	var oldest, newest int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(min(seq), 0), coalesce(max(seq), 0)
		FROM session_changes`).Scan(&oldest, &newest); err != nil {
		return nil, fmt.Errorf("sqlite: read session changes: %w", err)
	}
	if after != 0 && (after < oldest-1 || after > newest) {
		return nil, auth.ErrPositionExpired
	}
	rows, err := tx.QueryContext(ctx, `SELECT seq, session_id, generation, revoked, rotated_at, access_expires_at
		FROM session_changes WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read session changes: %w", err)
	}
	defer rows.Close()
	var out []auth.SessionChange
	for rows.Next() {
		var c auth.SessionChange
		if err := rows.Scan(&c.Seq, &c.SessionID, &c.Generation, &c.Revoked,
			timeCol{&c.RotatedAt}, timeCol{&c.AccessExpiresAt}); err != nil {
			return nil, fmt.Errorf("sqlite: read session changes: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: read session changes: %w", err)
	}
	return out, nil
}

// pollInterval is how often a server reads the change log, so the admin
// CLI's revocations reach it within that time.
const pollInterval = 200 * time.Millisecond

// FollowChanges is Follow at pollInterval, reporting to sink: the store's
// auth.FeedStore.
func (s *Store) FollowChanges(ctx context.Context, sink auth.FeedSink, _ *slog.Logger) {
	s.Follow(ctx, pollInterval, sink.SessionChanged, sink.SetFeedHealthy)
}
