package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/sqlite"
)

// The write-ahead log must be checkpointed as the server writes, so that
// it stays near SQLite's automatic checkpoint size (1000 pages, 4 MiB)
// instead of growing with every refresh until the disk is full: the
// headroom docs/operations.md asks for depends on it.
func TestWALCheckpointsUnderRefreshes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "g.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	defer st.Close()
	now := time.Now().UTC().Truncate(time.Microsecond)
	u := &auth.User{Email: "wal@example.com", PasswordHash: "x", CreatedAt: now, UpdatedAt: now}
	sess := &auth.Session{ID: "0421c0dd-c835-482b-8042-36f42b70e107", RotatedAt: now, AccessExpiresAt: now.Add(time.Hour),
		CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := st.CreateUser(ctx, u, sess); err != nil {
		t.Fatalf("CreateUser() = %v", err)
	}
	// Each rotation appends about three pages; 1200 of them are 3600
	// pages, well past one automatic checkpoint.
	const rotations = 1200
	for gen := range int64(rotations) {
		if _, err := st.RotateSession(ctx, sess.ID, gen, now, now.Add(time.Hour)); err != nil {
			t.Fatalf("RotateSession(generation %d) = %v", gen, err)
		}
	}
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	const limit = 5 << 20
	if fi.Size() > limit {
		t.Errorf("-wal file after %d rotations: %d bytes, want at most %d (checkpointed)", rotations, fi.Size(), limit)
	}
}
