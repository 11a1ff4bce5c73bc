package authtest

import (
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// testSessionChanges: rotations, revocations, the session cap's evictions
// and a user's deletion are logged in commit order with what a verifier
// needs; a revoked session deleted later is not logged again.
func testSessionChanges(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u, s := mustCreateUser(t, st, "log@example.com")
	t1 := t0.Add(time.Minute)
	if _, err := st.RotateSession(ctx, s.ID, 0, t1, t1.Add(15*time.Minute)); err != nil {
		t.Fatalf("RotateSession = %v", err)
	}
	if err := st.RevokeSession(ctx, s.ID, t1); err != nil {
		t.Fatalf("RevokeSession = %v", err)
	}
	if err := st.RevokeSession(ctx, s.ID, t1.Add(time.Second)); err != nil { // already revoked: nothing to log
		t.Fatalf("RevokeSession again = %v", err)
	}
	old := mustCreateSession(t, st, newSession(u.ID, t0))
	evicted, err := st.CreateSession(ctx, newSession(u.ID, t1), 1)
	if err != nil || len(evicted) != 1 {
		t.Fatalf("CreateSession(cap 1) = %v, %v; want one eviction", evicted, err)
	}
	live := mustCreateSession(t, st, newSession(u.ID, t1))
	if _, err := st.DeleteUser(ctx, u.ID); err != nil {
		t.Fatalf("DeleteUser = %v", err)
	}

	got, err := st.SessionChanges(ctx, 0, 100)
	if err != nil {
		t.Fatalf("SessionChanges(0) = %v", err)
	}
	want := []auth.SessionChange{
		{SessionID: s.ID, Generation: 1, RotatedAt: t1, AccessExpiresAt: t1.Add(15 * time.Minute)},
		{SessionID: s.ID, Generation: 1, Revoked: true, RotatedAt: t1, AccessExpiresAt: t1.Add(15 * time.Minute)},
		{SessionID: old.ID, Revoked: true, RotatedAt: t0, AccessExpiresAt: t0.Add(15 * time.Minute)},
	}
	// The deleted user's live sessions (the cap's survivor and live), in
	// the order the cascade happened to delete them.
	deleted := map[string]bool{}
	for _, c := range got[min(len(want), len(got)):] {
		deleted[c.SessionID] = c.Revoked
	}
	if len(got) != len(want)+2 || !deleted[live.ID] || len(deleted) != 2 {
		t.Fatalf("SessionChanges(0) = %+v; want %d entries then revocations of the 2 deleted live sessions", got, len(want))
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq <= got[i-1].Seq {
			t.Errorf("SessionChanges(0): seq %d after %d; want increasing", got[i].Seq, got[i-1].Seq)
		}
	}
	if diff := cmp.Diff(want, got[:len(want)], cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Seq" }, cmp.Ignore())); diff != "" {
		t.Errorf("SessionChanges(0) mismatch (-want +got):\n%s", diff)
	}

	// Resuming from a position returns what follows it, up to limit.
	after, err := st.SessionChanges(ctx, got[0].Seq, 2)
	if err != nil || len(after) != 2 || after[0].Seq != got[1].Seq || after[1].Seq != got[2].Seq {
		t.Errorf("SessionChanges(%d, 2) = %+v, %v; want entries %d and %d", got[0].Seq, after, err, got[1].Seq, got[2].Seq)
	}
	last := got[len(got)-1].Seq
	if rest, err := st.SessionChanges(ctx, last, 100); err != nil || len(rest) != 0 {
		t.Errorf("SessionChanges(newest %d) = %+v, %v; want nothing", last, rest, err)
	}
	// A position this log never reached comes from another database.
	if _, err := st.SessionChanges(ctx, last+1000, 100); !errors.Is(err, auth.ErrPositionExpired) {
		t.Errorf("SessionChanges(beyond newest) = %v; want ErrPositionExpired", err)
	}
}

// testSessionChangesEmpty: an empty log has nothing from the start and
// knows no other position.
func testSessionChangesEmpty(t *testing.T, st auth.Store) {
	if got, err := st.SessionChanges(t.Context(), 0, 10); err != nil || len(got) != 0 {
		t.Errorf("SessionChanges(0) on an empty log = %+v, %v; want nothing", got, err)
	}
	if _, err := st.SessionChanges(t.Context(), 7, 10); !errors.Is(err, auth.ErrPositionExpired) {
		t.Errorf("SessionChanges(7) on an empty log = %v; want ErrPositionExpired", err)
	}
}

// testServiceTokens: tokens are found by the hash of their secret, listed
// revoked or not, and revoked once (the first time stays).
func testServiceTokens(t *testing.T, st auth.Store) {
	ctx := t.Context()
	hashA, hashB := sha256.Sum256([]byte("secret a")), sha256.Sum256([]byte("secret b"))
	a := &auth.ServiceToken{Name: "billing", CreatedAt: t0}
	b := &auth.ServiceToken{Name: "search", CreatedAt: t0.Add(time.Second)}
	for _, c := range []struct {
		tok  *auth.ServiceToken
		hash []byte
	}{{a, hashA[:]}, {b, hashB[:]}} {
		if err := st.CreateServiceToken(ctx, c.tok, c.hash); err != nil || c.tok.ID <= 0 {
			t.Fatalf("CreateServiceToken(%q) = %v, id %d; want a positive id", c.tok.Name, err, c.tok.ID)
		}
	}
	if a.ID == b.ID {
		t.Errorf("CreateServiceToken gave both tokens id %d", a.ID)
	}
	if err := st.CreateServiceToken(ctx, &auth.ServiceToken{Name: "dup", CreatedAt: t0}, hashA[:]); err == nil {
		t.Errorf("CreateServiceToken with a hash in use = nil; want an error")
	}

	got, err := st.ServiceTokenByHash(ctx, hashB[:])
	if err != nil {
		t.Fatalf("ServiceTokenByHash(b) = %v", err)
	}
	if diff := cmp.Diff(b, got); diff != "" {
		t.Errorf("ServiceTokenByHash(b) mismatch (-want +got):\n%s", diff)
	}
	unknown := sha256.Sum256([]byte("never issued"))
	_, err = st.ServiceTokenByHash(ctx, unknown[:])
	checkNotFound(t, "ServiceTokenByHash(unknown)", err)

	revokedAt := t0.Add(time.Hour)
	if err := st.RevokeServiceToken(ctx, a.ID, revokedAt); err != nil {
		t.Fatalf("RevokeServiceToken(a) = %v", err)
	}
	if err := st.RevokeServiceToken(ctx, a.ID, revokedAt.Add(time.Hour)); err != nil {
		t.Fatalf("RevokeServiceToken(a) again = %v", err)
	}
	checkNotFound(t, "RevokeServiceToken(absent)", st.RevokeServiceToken(ctx, b.ID+1000, revokedAt))

	list, err := st.ListServiceTokens(ctx)
	if err != nil {
		t.Fatalf("ListServiceTokens = %v", err)
	}
	wantA := *a
	wantA.RevokedAt = revokedAt
	if diff := cmp.Diff([]auth.ServiceToken{wantA, *b}, list); diff != "" {
		t.Errorf("ListServiceTokens mismatch (-want +got):\n%s", diff)
	}
	// A revoked token is still found (the service refuses it), so that
	// revocation is visible rather than looking like a typo.
	if got, err := st.ServiceTokenByHash(ctx, hashA[:]); err != nil || got.RevokedAt.IsZero() {
		t.Errorf("ServiceTokenByHash(revoked a) = %+v, %v; want it, revoked", got, err)
	}
}

// testSessionChangesConcurrent: a follower reading the log while many
// changes commit concurrently sees every one of them. Positions must be in
// commit order for that: a follower that has read past a position never
// looks before it again, so an entry committed later with a smaller
// position would be skipped for ever.
func testSessionChangesConcurrent(t *testing.T, st auth.Store) {
	ctx := t.Context()
	const sessions, rotations = 8, 25
	u, first := mustCreateUser(t, st, "concurrent@example.com")
	ids := []string{first.ID}
	for len(ids) < sessions {
		ids = append(ids, mustCreateSession(t, st, newSession(u.ID, t0)).ID)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Concurrently(sessions, func(i int) {
			for gen := int64(0); gen < rotations; gen++ {
				at := t0.Add(time.Duration(gen+1) * time.Second)
				if _, err := st.RotateSession(ctx, ids[i], gen, at, at.Add(15*time.Minute)); err != nil {
					t.Errorf("RotateSession(%d, %d) = %v", i, gen, err)
					return
				}
			}
		})
	}()
	var pos int64
	seen := 0
	follow := func() {
		got, err := st.SessionChanges(ctx, pos, 1000)
		if err != nil {
			t.Fatalf("SessionChanges(%d) = %v", pos, err)
		}
		for _, c := range got {
			pos = c.Seq
			seen++
		}
	}
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		follow()
	}
	follow()
	if seen != sessions*rotations {
		t.Errorf("a follower reading during %d concurrent rotations saw %d of them", sessions*rotations, seen)
	}
}
