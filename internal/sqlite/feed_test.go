package sqlite

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
)

type change struct {
	id      string
	gen     int64
	revoked bool
}

// TestFollow: changes committed through another Store on the same file
// (another process, such as the admin CLI) reach a follower in order;
// nothing is reported for changes before it started.
func TestFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	server, cli := open(t, path), open(t, path)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	u := &auth.User{Email: "ada@example.com", PasswordHash: "x", CreatedAt: t0, UpdatedAt: t0}
	s := &auth.Session{ID: "s1", RotatedAt: t0, AccessExpiresAt: t0.Add(time.Hour), CreatedAt: t0, LastUsedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}
	if err := cli.CreateUser(t.Context(), u, s); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.RotateSession(t.Context(), "s1", 0, t0, t0.Add(time.Hour)); err != nil {
		t.Fatal(err) // before the follower starts: not reported
	}

	var mu sync.Mutex
	var got []change
	healthy := make(chan bool, 4)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		server.Follow(ctx, 10*time.Millisecond, func(id string, gen int64, revoked bool) {
			mu.Lock()
			got = append(got, change{id, gen, revoked})
			mu.Unlock()
		}, func(h bool) { healthy <- h })
	}()
	if h := <-healthy; !h {
		t.Fatal("Follow: first health report is false, want true")
	}

	if _, err := cli.RotateSession(t.Context(), "s1", 1, t0, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := cli.RevokeSession(t.Context(), "s1", t0); err != nil {
		t.Fatal(err)
	}
	if err := cli.RevokeSession(t.Context(), "s1", t0); err != nil {
		t.Fatal(err) // already revoked: no change, nothing reported
	}
	if _, err := cli.DeleteUser(t.Context(), u.ID); err != nil {
		t.Fatal(err)
	}
	// rotate, revoke; deleting the already revoked session announces nothing
	want := []change{{"s1", 2, false}, {"s1", 2, true}}
	deadline := time.Now().Add(2 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // five more polls: nothing else may come
	cancel()
	<-done
	if len(got) != len(want) {
		t.Fatalf("Follow reported %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("change %d: got %v, want %v", i, got[i], want[i])
		}
	}
	if h := <-healthy; h {
		t.Error("Follow: last health report after ctx ended is true, want false")
	}
}
