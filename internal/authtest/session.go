package authtest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gatehouse/gatehouse/internal/auth"
)

func testCreateSession(t *testing.T, st auth.Store) {
	u, _ := mustCreateUser(t, st, "ada@example.com")
	cest := time.FixedZone("CEST", 2*60*60)
	tests := []struct {
		name    string
		session auth.Session
	}{
		{
			name: "Live",
			session: auth.Session{
				ID: newSessionID(), UserID: u.ID, Generation: 7,
				RotatedAt:       t0.Add(time.Minute),
				AccessExpiresAt: t0.Add(16 * time.Minute),
				CreatedAt:       t0,
				LastUsedAt:      t0.Add(2 * time.Minute),
				ExpiresAt:       t0.Add(30 * 24 * time.Hour),
				IP:              "2001:db8::1",
				UserAgent:       "Mozilla/5.0 (Macintosh) Safari/605.1.15 «ünïcødé»",
			},
		},
		{
			name: "Revoked",
			session: auth.Session{
				ID: newSessionID(), UserID: u.ID, Generation: 1,
				RotatedAt:       t0.Add(3 * time.Microsecond),
				AccessExpiresAt: t0.Add(15 * time.Minute),
				CreatedAt:       t0.Add(-time.Hour),
				LastUsedAt:      t0.Add(5 * time.Microsecond),
				ExpiresAt:       t0.Add(time.Hour),
				RevokedAt:       t0.Add(10 * time.Minute),
				IP:              "",
				UserAgent:       "",
			},
		},
		{
			// Times in another zone are the same instants; they come back in UTC.
			name: "NonUTCInput",
			session: auth.Session{
				ID: newSessionID(), UserID: u.ID, Generation: 0,
				RotatedAt:       t0.In(cest),
				AccessExpiresAt: t0.Add(15 * time.Minute).In(cest),
				CreatedAt:       t0.In(cest),
				LastUsedAt:      t0.In(cest),
				ExpiresAt:       t0.Add(24 * time.Hour).In(cest),
				IP:              "198.51.100.23",
				UserAgent:       "curl/8.5.0",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.session
			evicted, err := st.CreateSession(t.Context(), &s, 0)
			if err != nil {
				t.Fatalf("CreateSession(%q, 0) = %v", s.ID, err)
			}
			if len(evicted) != 0 {
				t.Errorf("CreateSession(%q, 0) evicted %q, want none", s.ID, evicted)
			}
			if d := cmp.Diff(mustSession(t, st, s.ID), &tt.session); d != "" {
				t.Errorf("Session(%q) mismatch (-got +want):\n%s", s.ID, d)
			}
		})
	}
}

func testSessionNotFound(t *testing.T, st auth.Store) {
	id := newSessionID()
	_, err := st.Session(t.Context(), id)
	checkNotFound(t, "Session("+id+")", err)
}

func testCreateSessionMaxPerUser(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u, first := mustCreateUser(t, st, "ada@example.com") // created at t0
	live := []*auth.Session{first}
	for i := 1; i <= 4; i++ {
		live = append(live, mustCreateSession(t, st, newSession(u.ID, t0.Add(time.Duration(i)*time.Minute))))
	}
	other, otherFirst := mustCreateUser(t, st, "grace@example.com")
	otherSecond := mustCreateSession(t, st, newSession(other.ID, t0.Add(time.Minute)))

	// 5 live + the new one = 6, cap 3: the 3 oldest go.
	s := newSession(u.ID, t0.Add(10*time.Minute))
	evicted, err := st.CreateSession(ctx, s, 3)
	if err != nil {
		t.Fatalf("CreateSession(%q, 3) = %v", s.ID, err)
	}
	wantEvicted := []string{live[0].ID, live[1].ID, live[2].ID}
	if d := cmp.Diff(sorted(evicted), sorted(wantEvicted)); d != "" {
		t.Errorf("CreateSession(%q, 3) evicted mismatch (-got +want):\n%s", s.ID, d)
	}
	for _, id := range wantEvicted {
		if got := mustSession(t, st, id); !got.RevokedAt.Equal(s.CreatedAt) {
			t.Errorf("Session(%q) after eviction: RevokedAt = %v, want the new session's CreatedAt %v", id, got.RevokedAt, s.CreatedAt)
		}
	}
	assertLiveSessions(t, st, u.ID, s.CreatedAt, s, live[4], live[3])
	assertLiveSessions(t, st, other.ID, s.CreatedAt, otherSecond, otherFirst)
}

func testCreateSessionMaxPerUserSkipsDead(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u, first := mustCreateUser(t, st, "ada@example.com") // live
	revoked := mustCreateSession(t, st, newSession(u.ID, t0.Add(-2*time.Hour)))
	if err := st.RevokeSession(ctx, revoked.ID, t0.Add(-time.Hour)); err != nil {
		t.Fatalf("RevokeSession(%q) = %v", revoked.ID, err)
	}
	expired := newSession(u.ID, t0.Add(-3*time.Hour))
	expired.ExpiresAt = t0.Add(5 * time.Minute)
	mustCreateSession(t, st, expired)

	// Only first and s are live at s.CreatedAt: within a cap of 2.
	s := newSession(u.ID, t0.Add(10*time.Minute))
	evicted, err := st.CreateSession(ctx, s, 2)
	if err != nil {
		t.Fatalf("CreateSession(%q, 2) = %v", s.ID, err)
	}
	if len(evicted) != 0 {
		t.Errorf("CreateSession(%q, 2) with 1 live, 1 revoked and 1 expired session evicted %q, want none", s.ID, evicted)
	}
	assertLiveSessions(t, st, u.ID, s.CreatedAt, s, first)
}

func testCreateSessionNoEviction(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u, first := mustCreateUser(t, st, "ada@example.com")
	second := newSession(u.ID, t0.Add(time.Minute))
	if evicted, err := st.CreateSession(ctx, second, 0); err != nil || len(evicted) != 0 {
		t.Fatalf("CreateSession(%q, 0) = %q, %v, want no evictions", second.ID, evicted, err)
	}
	third := newSession(u.ID, t0.Add(2*time.Minute))
	if evicted, err := st.CreateSession(ctx, third, 3); err != nil || len(evicted) != 0 {
		t.Fatalf("CreateSession(%q, 3) with 3 live sessions = %q, %v, want no evictions", third.ID, evicted, err)
	}
	assertLiveSessions(t, st, u.ID, third.CreatedAt, third, second, first)
}

// assertLiveSessions checks that ListSessions(userID, now) is exactly want,
// newest first.
func assertLiveSessions(t *testing.T, st auth.Store, userID int64, now time.Time, want ...*auth.Session) {
	t.Helper()
	got, err := st.ListSessions(t.Context(), userID, now)
	if err != nil {
		t.Fatalf("ListSessions(%d, %v) = %v", userID, now, err)
	}
	wantSessions := make([]auth.Session, 0, len(want))
	for _, s := range want {
		wantSessions = append(wantSessions, *s)
	}
	if d := cmp.Diff(got, wantSessions, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("ListSessions(%d, %v) mismatch (-got +want):\n%s", userID, now, d)
	}
	for i := range got {
		checkSessionUTC(t, "ListSessions", &got[i])
	}
}

func testRotateSession(t *testing.T, st auth.Store) {
	ctx := t.Context()
	_, s := mustCreateUser(t, st, "ada@example.com")
	want := *s
	for i := 1; i <= 2; i++ {
		at := t0.Add(time.Duration(i) * 5 * time.Minute)
		accessExpiresAt := at.Add(15 * time.Minute)
		got, err := st.RotateSession(ctx, s.ID, want.Generation, at, accessExpiresAt)
		if err != nil {
			t.Fatalf("RotateSession(%q, %d) = %v", s.ID, want.Generation, err)
		}
		from := want.Generation
		want.Generation++
		want.RotatedAt = at
		want.LastUsedAt = at
		want.AccessExpiresAt = accessExpiresAt
		if d := cmp.Diff(got, &want); d != "" {
			t.Errorf("RotateSession(%q, %d) mismatch (-got +want):\n%s", s.ID, from, d)
		}
		checkSessionUTC(t, "RotateSession", got)
		if d := cmp.Diff(mustSession(t, st, s.ID), &want); d != "" {
			t.Errorf("Session(%q) after RotateSession(%d) mismatch (-got +want):\n%s", s.ID, from, d)
		}
	}
}

func testRotateSessionStaleGeneration(t *testing.T, st auth.Store) {
	ctx := t.Context()
	_, s := mustCreateUser(t, st, "ada@example.com")
	at := t0.Add(time.Minute)
	if _, err := st.RotateSession(ctx, s.ID, s.Generation, at, at.Add(15*time.Minute)); err != nil {
		t.Fatalf("RotateSession(%q, %d) = %v", s.ID, s.Generation, err)
	}
	for _, from := range []int64{s.Generation, s.Generation + 5} {
		_, err := st.RotateSession(ctx, s.ID, from, at.Add(time.Minute), at.Add(16*time.Minute))
		if !errors.Is(err, auth.ErrConflict) {
			t.Errorf("RotateSession(%q, %d) at generation %d = %v, want ErrConflict", s.ID, from, s.Generation+1, err)
		}
	}
	if got := mustSession(t, st, s.ID); got.Generation != s.Generation+1 || !got.RotatedAt.Equal(at) {
		t.Errorf("Session(%q) after rejected rotations: Generation %d, RotatedAt %v, want %d, %v",
			s.ID, got.Generation, got.RotatedAt, s.Generation+1, at)
	}
}

func testRotateSessionRevoked(t *testing.T, st auth.Store) {
	ctx := t.Context()
	_, s := mustCreateUser(t, st, "ada@example.com")
	if err := st.RevokeSession(ctx, s.ID, t0.Add(time.Minute)); err != nil {
		t.Fatalf("RevokeSession(%q) = %v", s.ID, err)
	}
	_, err := st.RotateSession(ctx, s.ID, s.Generation, t0.Add(2*time.Minute), t0.Add(17*time.Minute))
	if !errors.Is(err, auth.ErrConflict) {
		t.Errorf("RotateSession(%q) of a revoked session = %v, want ErrConflict", s.ID, err)
	}
	if got := mustSession(t, st, s.ID); got.Generation != s.Generation {
		t.Errorf("Session(%q) after a rejected rotation: Generation = %d, want %d", s.ID, got.Generation, s.Generation)
	}
}

func testRotateSessionNotFound(t *testing.T, st auth.Store) {
	id := newSessionID()
	_, err := st.RotateSession(t.Context(), id, 0, t0, t0.Add(15*time.Minute))
	checkNotFound(t, "RotateSession("+id+")", err)
}

func testRotateSessionConcurrent(t *testing.T, st auth.Store) {
	ctx := t.Context()
	_, s := mustCreateUser(t, st, "ada@example.com")
	const n = 8
	errs := make([]error, n)
	Concurrently(n, func(i int) {
		at := t0.Add(time.Duration(i+1) * time.Second)
		_, errs[i] = st.RotateSession(ctx, s.ID, s.Generation, at, at.Add(15*time.Minute))
	})
	var ok, conflict int
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, auth.ErrConflict):
			conflict++
		default:
			t.Errorf("RotateSession(%q, %d) in goroutine %d = %v, want nil or ErrConflict", s.ID, s.Generation, i, err)
		}
	}
	if ok != 1 || conflict != n-1 {
		t.Errorf("%d concurrent RotateSession(%q, %d): %d succeeded and %d got ErrConflict, want 1 and %d",
			n, s.ID, s.Generation, ok, conflict, n-1)
	}
	if got := mustSession(t, st, s.ID); got.Generation != s.Generation+1 {
		t.Errorf("Session(%q) after the race: Generation = %d, want %d", s.ID, got.Generation, s.Generation+1)
	}
}

func testRevokeSession(t *testing.T, st auth.Store) {
	ctx := t.Context()
	_, s := mustCreateUser(t, st, "ada@example.com")
	at := t0.Add(time.Minute)
	if err := st.RevokeSession(ctx, s.ID, at); err != nil {
		t.Fatalf("RevokeSession(%q) = %v", s.ID, err)
	}
	want := *s
	want.RevokedAt = at
	if d := cmp.Diff(mustSession(t, st, s.ID), &want); d != "" {
		t.Errorf("Session(%q) after RevokeSession mismatch (-got +want):\n%s", s.ID, d)
	}

	if err := st.RevokeSession(ctx, s.ID, at.Add(time.Hour)); err != nil {
		t.Errorf("RevokeSession(%q) a second time = %v, want nil", s.ID, err)
	}
	if got := mustSession(t, st, s.ID); !got.RevokedAt.Equal(at) {
		t.Errorf("Session(%q) after a second RevokeSession: RevokedAt = %v, want the first %v", s.ID, got.RevokedAt, at)
	}

	id := newSessionID()
	checkNotFound(t, "RevokeSession("+id+")", st.RevokeSession(ctx, id, at))
}

func testRevokeUserSessions(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u, a := mustCreateUser(t, st, "ada@example.com")
	b := mustCreateSession(t, st, newSession(u.ID, t0.Add(time.Minute)))
	c := mustCreateSession(t, st, newSession(u.ID, t0.Add(2*time.Minute)))
	revoked := mustCreateSession(t, st, newSession(u.ID, t0.Add(3*time.Minute)))
	revokedAt := t0.Add(4 * time.Minute)
	if err := st.RevokeSession(ctx, revoked.ID, revokedAt); err != nil {
		t.Fatalf("RevokeSession(%q) = %v", revoked.ID, err)
	}
	expired := newSession(u.ID, t0.Add(-2*time.Hour))
	expired.ExpiresAt = t0.Add(-time.Hour)
	mustCreateSession(t, st, expired)
	other, otherSession := mustCreateUser(t, st, "grace@example.com")

	at := t0.Add(10 * time.Minute)
	ids, err := st.RevokeUserSessions(ctx, u.ID, a.ID, at)
	if err != nil {
		t.Fatalf("RevokeUserSessions(%d, except %q) = %v", u.ID, a.ID, err)
	}
	if d := cmp.Diff(sorted(ids), sorted([]string{b.ID, c.ID})); d != "" {
		t.Errorf("RevokeUserSessions(%d, except %q) ids mismatch (-got +want):\n%s", u.ID, a.ID, d)
	}
	for _, id := range []string{b.ID, c.ID} {
		if got := mustSession(t, st, id); !got.RevokedAt.Equal(at) {
			t.Errorf("Session(%q) after RevokeUserSessions: RevokedAt = %v, want %v", id, got.RevokedAt, at)
		}
	}
	if got := mustSession(t, st, revoked.ID); !got.RevokedAt.Equal(revokedAt) {
		t.Errorf("Session(%q) revoked earlier: RevokedAt = %v, want it kept at %v", revoked.ID, got.RevokedAt, revokedAt)
	}
	assertLiveSessions(t, st, u.ID, at, a)
	assertLiveSessions(t, st, other.ID, at, otherSession)

	at2 := at.Add(time.Minute)
	ids, err = st.RevokeUserSessions(ctx, u.ID, "", at2)
	if err != nil {
		t.Fatalf("RevokeUserSessions(%d, no exception) = %v", u.ID, err)
	}
	if d := cmp.Diff(sorted(ids), []string{a.ID}); d != "" {
		t.Errorf("RevokeUserSessions(%d, no exception) ids mismatch (-got +want):\n%s", u.ID, d)
	}
	ids, err = st.RevokeUserSessions(ctx, u.ID, "", at2.Add(time.Minute))
	if err != nil || len(ids) != 0 {
		t.Errorf("RevokeUserSessions(%d) with nothing live = %q, %v, want no ids", u.ID, ids, err)
	}
	assertLiveSessions(t, st, other.ID, at2, otherSession)
}

func testListSessions(t *testing.T, st auth.Store) {
	ctx := t.Context()
	now := t0.Add(time.Hour)
	u, first := mustCreateUser(t, st, "ada@example.com")
	second := mustCreateSession(t, st, newSession(u.ID, t0.Add(time.Minute)))
	third := mustCreateSession(t, st, newSession(u.ID, t0.Add(2*time.Minute)))
	revoked := mustCreateSession(t, st, newSession(u.ID, t0.Add(3*time.Minute)))
	if err := st.RevokeSession(ctx, revoked.ID, t0.Add(4*time.Minute)); err != nil {
		t.Fatalf("RevokeSession(%q) = %v", revoked.ID, err)
	}
	expiresNow := newSession(u.ID, t0.Add(5*time.Minute))
	expiresNow.ExpiresAt = now // Session.Live: not live at its ExpiresAt
	mustCreateSession(t, st, expiresNow)
	expired := newSession(u.ID, t0.Add(-2*time.Hour))
	expired.ExpiresAt = t0
	mustCreateSession(t, st, expired)
	other, otherSession := mustCreateUser(t, st, "grace@example.com")
	nobody, _ := mustCreateUser(t, st, "nobody@example.com")
	if _, err := st.RevokeUserSessions(ctx, nobody.ID, "", t0); err != nil {
		t.Fatalf("RevokeUserSessions(%d) = %v", nobody.ID, err)
	}

	assertLiveSessions(t, st, u.ID, now, third, second, first)
	assertLiveSessions(t, st, other.ID, now, otherSession)
	assertLiveSessions(t, st, nobody.ID, now)
	// Just before expiresNow ends it is still live.
	assertLiveSessions(t, st, u.ID, now.Add(-time.Microsecond), expiresNow, third, second, first)

	// The same sessions, counted across users: u's three and other's one.
	if n, err := st.CountLiveSessions(ctx, now); err != nil || n != 4 {
		t.Errorf("CountLiveSessions(now) = %d, %v; want 4, nil", n, err)
	}
	if n, err := st.CountLiveSessions(ctx, now.Add(-time.Microsecond)); err != nil || n != 5 {
		t.Errorf("CountLiveSessions(just before now) = %d, %v; want 5, nil", n, err)
	}
}

func testDeleteEndedSessions(t *testing.T, st auth.Store) {
	ctx := t.Context()
	cutoff := t0.Add(48 * time.Hour)
	u, live := mustCreateUser(t, st, "ada@example.com")

	expiredLongAgo := newSession(u.ID, t0.Add(-2*time.Hour))
	expiredLongAgo.ExpiresAt = t0
	mustCreateSession(t, st, expiredLongAgo)
	revokedLongAgo := mustCreateSession(t, st, newSession(u.ID, t0.Add(time.Minute)))
	if err := st.RevokeSession(ctx, revokedLongAgo.ID, t0.Add(time.Hour)); err != nil {
		t.Fatalf("RevokeSession(%q) = %v", revokedLongAgo.ID, err)
	}
	revokedRecently := mustCreateSession(t, st, newSession(u.ID, t0.Add(2*time.Minute)))
	if err := st.RevokeSession(ctx, revokedRecently.ID, cutoff.Add(time.Hour)); err != nil {
		t.Fatalf("RevokeSession(%q) = %v", revokedRecently.ID, err)
	}

	// A limit of 1 deletes one of the two, then the next call the other.
	n1, err1 := st.DeleteEndedSessions(ctx, cutoff, 1)
	n2, err2 := st.DeleteEndedSessions(ctx, cutoff, 10)
	n3, err3 := st.DeleteEndedSessions(ctx, cutoff, 10)
	if err1 != nil || err2 != nil || err3 != nil || n1 != 1 || n2 != 1 || n3 != 0 {
		t.Fatalf("DeleteEndedSessions x3 = (%d, %v), (%d, %v), (%d, %v); want 1, 1, 0 and no errors", n1, err1, n2, err2, n3, err3)
	}
	for _, gone := range []string{expiredLongAgo.ID, revokedLongAgo.ID} {
		if _, err := st.Session(ctx, gone); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("Session(%q) after pruning = %v, want ErrNotFound", gone, err)
		}
	}
	for _, kept := range []string{live.ID, revokedRecently.ID} {
		if _, err := st.Session(ctx, kept); err != nil {
			t.Errorf("Session(%q) after pruning = %v, want it kept", kept, err)
		}
	}
}

// testConcurrentWritesFailAlone: writes that fail (a lost compare-and-swap,
// an insert for a user that does not exist, a revocation of no session)
// racing with writes that succeed, as a store that commits concurrent
// writes together (SQLite's group commit) sees them: each gets its own
// answer, and every success is stored.
func testConcurrentWritesFailAlone(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u, shared := mustCreateUser(t, st, "ada@example.com")
	const n = 8
	own := make([]*auth.Session, n)
	for i := range own {
		own[i] = mustCreateSession(t, st, newSession(u.ID, t0))
	}
	fresh := make([]*auth.Session, n)
	for i := range fresh {
		fresh[i] = newSession(u.ID, t0)
	}
	type answer struct {
		what string
		err  error
	}
	answers := make([]answer, 5*n)
	Concurrently(5*n, func(i int) {
		at := t0.Add(time.Duration(i+1) * time.Second)
		switch k := i % n; i / n {
		case 0: // all race for the same generation of one session
			_, err := st.RotateSession(ctx, shared.ID, shared.Generation, at, at.Add(time.Minute))
			answers[i] = answer{"rotate the shared session", err}
		case 1:
			_, err := st.RotateSession(ctx, own[k].ID, 0, at, at.Add(time.Minute))
			answers[i] = answer{"rotate an own session", err}
		case 2:
			_, err := st.CreateSession(ctx, fresh[k], 0)
			answers[i] = answer{"create a session", err}
		case 3:
			s := newSession(u.ID+1000, t0)
			_, err := st.CreateSession(ctx, s, 0)
			answers[i] = answer{"create a session of no user", err}
		case 4:
			answers[i] = answer{"revoke no session", st.RevokeSession(ctx, newSessionID(), at)}
		}
	})
	won := 0
	for i, a := range answers {
		var ok bool
		switch i / n {
		case 0:
			if a.err == nil {
				won++
			}
			ok = a.err == nil || errors.Is(a.err, auth.ErrConflict)
		case 1, 2:
			ok = a.err == nil
		case 3, 4:
			ok = errors.Is(a.err, auth.ErrNotFound)
		}
		if !ok {
			t.Errorf("%s (goroutine %d): %v", a.what, i, a.err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d racing rotations of one generation won, want 1", won, n)
	}
	for i := range n {
		if got := mustSession(t, st, own[i].ID); got.Generation != 1 {
			t.Errorf("own session %d at generation %d after its rotation, want 1", i, got.Generation)
		}
		mustSession(t, st, fresh[i].ID)
	}
}
