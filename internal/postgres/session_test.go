package postgres

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// benchSession stores one user with one session for a benchmark.
func benchSession(b *testing.B) (*Store, *auth.Session) {
	st, _ := newTestStore(b)
	now := time.Now().UTC().Truncate(time.Microsecond)
	u := &auth.User{Email: "bench@example.com", PasswordHash: "x", CreatedAt: now, UpdatedAt: now}
	s := &auth.Session{ID: "3f2a6c1e-1f0b-4c7e-9a55-0d6b8e2f4a11", RotatedAt: now, AccessExpiresAt: now.Add(time.Hour),
		CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(24 * time.Hour),
		IP: "203.0.113.7", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) bench"}
	if err := st.CreateUser(b.Context(), u, s); err != nil {
		b.Fatalf("CreateUser = %v", err)
	}
	return st, s
}

func BenchmarkRotateSession(b *testing.B) {
	st, s := benchSession(b)
	gen := s.Generation
	b.ReportAllocs()
	for b.Loop() {
		now := time.Now()
		if _, err := st.RotateSession(b.Context(), s.ID, gen, now, now.Add(time.Hour)); err != nil {
			b.Fatalf("RotateSession(%d) = %v", gen, err)
		}
		gen++
	}
}

func BenchmarkSession(b *testing.B) {
	st, s := benchSession(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.Session(b.Context(), s.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// Concurrent sign-ins of one user respect the cap exactly, and mixing them
// with revocations of all sessions never deadlocks.
func TestCreateSession_ConcurrentCap(t *testing.T) {
	t.Parallel()
	st, _ := newTestStore(t)
	ctx := t.Context()
	t0 := time.Date(2025, time.March, 14, 9, 0, 0, 0, time.UTC)
	u := &auth.User{Email: "ada@example.com", PasswordHash: "x", CreatedAt: t0, UpdatedAt: t0}
	if err := st.CreateUser(ctx, u, nil); err != nil {
		t.Fatalf("CreateUser = %v", err)
	}
	const n, maxPerUser = 24, 3
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			at := t0.Add(time.Duration(i) * time.Second)
			if i%6 == 5 {
				_, errs[i] = st.RevokeUserSessions(ctx, u.ID, "", at)
				return
			}
			s := &auth.Session{ID: fmt.Sprintf("s%02d", i), UserID: u.ID, RotatedAt: at, CreatedAt: at,
				LastUsedAt: at, AccessExpiresAt: at.Add(time.Hour), ExpiresAt: at.Add(24 * time.Hour)}
			_, errs[i] = st.CreateSession(ctx, s, maxPerUser)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: %v", i, err)
		}
	}
	live, err := st.ListSessions(ctx, u.ID, t0)
	if err != nil {
		t.Fatalf("ListSessions = %v", err)
	}
	if len(live) > maxPerUser {
		t.Errorf("after %d concurrent sign-ins with a cap of %d: %d live sessions", n, maxPerUser, len(live))
	}
}
