package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// Group commit. With synchronous=FULL every commit waits for an fsync, and
// on one writer connection the commits of concurrent requests used to wait
// for each other's: a refresh or a sign-out cost a whole fsync. The batcher
// runs the hot writes (session insert, rotation, revocation) that arrive
// while a transaction is being committed together in the next one, so
// they share its fsync. Each caller is answered only after the transaction
// holding its change has committed; each change runs in a savepoint of its
// own, so one that fails (a lost compare-and-swap, a constraint) is rolled
// back alone and the others commit.
//
// There is no waiting for company: a change that arrives to an idle
// batcher is committed at once, alone, as before.

// maxBatch bounds the changes in one transaction, so that one batch does
// not hold the writer for long and the latency added to its first change
// stays at a few milliseconds.
const maxBatch = 128

// errClosed answers changes submitted after Close.
var errClosed = errors.New("sqlite: store closed")

// A pending write is one caller's change.
type pending struct {
	ctx  context.Context // the caller's: a change whose caller gave up before its turn is not run
	fn   func(ctx context.Context, tx *sql.Tx) error
	done chan error // buffered: the batcher never waits for a caller
}

// batcher commits changes in groups on the writer connection (see above).
type batcher struct {
	db      *sql.DB
	mu      sync.Mutex
	queue   []*pending
	closed  bool
	wake    chan struct{} // capacity 1: "the queue may be non-empty"
	stopped chan struct{} // closed when run has returned
}

func newBatcher(db *sql.DB) *batcher {
	b := &batcher{db: db, wake: make(chan struct{}, 1), stopped: make(chan struct{})}
	go b.run()
	return b
}

// write runs fn in a savepoint of the next write transaction and returns
// once that transaction has committed (nil) or fn's change is known not to
// be committed (fn's error, or the transaction's). fn must do all its work
// through tx and the ctx it is given, not through a context of its caller:
// cancelling a statement in a shared transaction would roll back the
// others' changes too. If ctx ends first, write returns ctx's error and
// the change may still commit, like any write whose answer was lost.
func (b *batcher) write(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	c := &pending{ctx: ctx, fn: fn, done: make(chan error, 1)}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return errClosed
	}
	b.queue = append(b.queue, c)
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default: // already signalled
	}
	select {
	case err := <-c.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close stops taking changes, lets the queued ones commit and waits for
// the batcher to stop.
func (b *batcher) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
	<-b.stopped
}

func (b *batcher) run() {
	defer close(b.stopped)
	for range b.wake {
		for {
			batch, closed := b.take()
			if len(batch) > 0 {
				b.commit(batch)
				continue
			}
			if closed {
				return
			}
			break
		}
	}
}

// take removes up to maxBatch changes from the queue.
func (b *batcher) take() ([]*pending, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := min(len(b.queue), maxBatch)
	batch := b.queue[:n:n]
	b.queue = b.queue[n:]
	if len(b.queue) == 0 {
		b.queue = nil // let the backing array go
	}
	return batch, b.closed
}

// commit runs batch in one transaction and answers every change.
func (b *batcher) commit(batch []*pending) {
	errs := make([]error, len(batch))
	err := b.transaction(batch, errs)
	for i, c := range batch {
		if err != nil && errs[i] == nil {
			errs[i] = err
		}
		c.done <- errs[i]
	}
}

// transaction runs each change of batch in a savepoint, recording its
// error in errs, and commits. A non-nil result means nothing of the batch
// committed. Its context is never cancelled (see write).
func (b *batcher) transaction(batch []*pending, errs []error) error {
	ctx := context.Background()
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if len(batch) == 1 && batch[0].ctx.Err() == nil {
		// Alone, the transaction is the savepoint.
		if errs[0] = batch[0].fn(ctx, tx); errs[0] != nil {
			tx.Rollback()
			return nil
		}
		return tx.Commit()
	}
	for i, c := range batch {
		if err := c.ctx.Err(); err != nil {
			errs[i] = err // its caller has its answer already; it never runs
			continue
		}
		var lost error
		if errs[i], lost = savepoint(ctx, tx, c.fn); lost != nil {
			tx.Rollback()
			return lost
		}
	}
	return tx.Commit()
}

// savepoint runs fn in a savepoint of tx. On fn's error (changeErr) the
// savepoint is rolled back and the transaction goes on without fn's
// change. lost is non-nil when the transaction itself is lost: SQLite
// rolls back the whole transaction on some errors (a full disk, an I/O
// error), and then nothing of the batch can commit.
func savepoint(ctx context.Context, tx *sql.Tx, fn func(context.Context, *sql.Tx) error) (changeErr, lost error) {
	if _, err := tx.ExecContext(ctx, `SAVEPOINT change`); err != nil {
		return nil, err
	}
	if err := fn(ctx, tx); err != nil {
		// ROLLBACK TO leaves the savepoint open; RELEASE ends it.
		if _, rbErr := tx.ExecContext(ctx, `ROLLBACK TO change`); rbErr != nil {
			return err, fmt.Errorf("%w (the transaction was lost: %w)", err, rbErr)
		}
		_, lost = tx.ExecContext(ctx, `RELEASE change`)
		return err, lost
	}
	_, lost = tx.ExecContext(ctx, `RELEASE change`)
	return nil, lost
}
