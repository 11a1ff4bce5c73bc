package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// batchDB is a writer pool like Store's, on a table of its own.
func batchDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", dsn(filepath.Join(t.TempDir(), "b.db"), true))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL) STRICT`); err != nil {
		t.Fatal(err)
	}
	return db
}

// queued runs fns[0] and, while it is in flight, submits the rest one by
// one, each queued behind it; then lets fns[0] finish and returns each
// change's error and the transaction it ran in.
func queued(t *testing.T, b *batcher, fns []func(context.Context, *sql.Tx) error) ([]error, []*sql.Tx) {
	t.Helper()
	errs := make([]error, len(fns))
	txs := make([]*sql.Tx, len(fns))
	started, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Go(func() {
			errs[i] = b.write(t.Context(), func(ctx context.Context, tx *sql.Tx) error {
				txs[i] = tx
				if i == 0 {
					close(started)
					<-release
				}
				return fn(ctx, tx)
			})
		})
		if i == 0 {
			<-started
		} else { // one at a time, so the queue keeps their order
			waitFor(t, func() bool { return queueLen(b) == i })
		}
	}
	close(release)
	wg.Wait()
	return errs, txs
}

func queueLen(b *batcher) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}

func insert(k int, v string) func(context.Context, *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO t (k, v) VALUES (?, ?)`, k, v)
		return err
	}
}

// Changes that arrive while a transaction is in flight share the next
// one; a change that fails is rolled back alone, including the part of it
// that had succeeded, and the others commit.
func TestBatcher_OneTransactionFailuresAlone(t *testing.T) {
	t.Parallel()
	db := batchDB(t)
	b := newBatcher(db)
	defer b.close()
	twoThenFail := func(ctx context.Context, tx *sql.Tx) error {
		if err := insert(20, "half")(ctx, tx); err != nil {
			return err
		}
		return insert(1, "duplicate of the first")(ctx, tx)
	}
	errs, txs := queued(t, b, []func(context.Context, *sql.Tx) error{
		insert(1, "in flight"),
		insert(2, "two"),
		twoThenFail,
		insert(3, "three"),
		insert(2, "duplicate"),
		insert(4, "four"),
	})
	wantFail := map[int]bool{2: true, 4: true}
	for i, err := range errs {
		if wantFail[i] != (err != nil) {
			t.Errorf("change %d: error %v, want failure %v", i, err, wantFail[i])
		}
	}
	if txs[0] == txs[1] {
		t.Error("the change in flight shared a transaction with the ones queued behind it")
	}
	for i := 2; i < len(txs); i++ {
		if txs[i] != txs[1] {
			t.Errorf("change %d ran in another transaction than change 1: queued changes were not committed together", i)
		}
	}
	var got string
	rows, err := db.Query(`SELECT k, v FROM t ORDER BY k`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k int
		var v string
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		got += fmt.Sprintf("%d=%s;", k, v)
	}
	if want := "1=in flight;2=two;3=three;4=four;"; got != want {
		t.Errorf("rows %q, want %q", got, want)
	}
}

// A change that loses the whole transaction (here: it ends it) fails
// every change of its batch, and none of them is committed, not even the
// ones that ran before it.
func TestBatcher_LostTransactionCommitsNothing(t *testing.T) {
	t.Parallel()
	db := batchDB(t)
	b := newBatcher(db)
	defer b.close()
	errs, _ := queued(t, b, []func(context.Context, *sql.Tx) error{
		insert(1, "in flight"),
		insert(2, "before"),
		func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `ROLLBACK`)
			return errors.Join(err, errors.New("gave up"))
		},
		insert(3, "after"),
	})
	if errs[0] != nil {
		t.Errorf("the change in flight: %v", errs[0])
	}
	for i, err := range errs[1:] {
		if err == nil {
			t.Errorf("change %d of the lost batch: no error", i+1)
		}
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d rows, want 1 (only the first change's)", n)
	}
	// The batcher goes on.
	if err := b.write(t.Context(), insert(4, "next")); err != nil {
		t.Errorf("a change after the lost batch: %v", err)
	}
}

// A change whose caller gave up before its turn is not run; a change
// submitted after close is refused.
func TestBatcher_CancelledAndClosed(t *testing.T) {
	t.Parallel()
	db := batchDB(t)
	b := newBatcher(db)
	started, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- b.write(t.Context(), func(ctx context.Context, tx *sql.Tx) error {
			close(started)
			<-release
			return insert(1, "first")(ctx, tx)
		})
	}()
	<-started
	ctx, cancel := context.WithCancel(t.Context())
	ran := make(chan struct{}, 2)
	done := make(chan error, 2)
	for range 2 {
		go func() {
			done <- b.write(ctx, func(ctx context.Context, tx *sql.Tx) error { ran <- struct{}{}; return nil })
		}()
	}
	waitFor(t, func() bool { return queueLen(b) == 2 })
	cancel()
	for range 2 {
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("write with a cancelled context: %v, want context.Canceled", err)
		}
	}
	close(release)
	if err := <-first; err != nil {
		t.Errorf("the change in flight: %v", err)
	}
	b.close()
	if len(ran) != 0 {
		t.Errorf("%d cancelled changes ran", len(ran))
	}
	if err := b.write(t.Context(), insert(2, "late")); !errors.Is(err, errClosed) {
		t.Errorf("write after close: %v, want errClosed", err)
	}
}
