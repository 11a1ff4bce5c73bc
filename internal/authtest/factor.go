package authtest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// The store's part of second factors: pending sessions, how a session was
// proven, and completing a pending sign-in.

// newPendingSession returns an unsaved pending sign-in of userID at
// createdAt, proven by a password so far.
func newPendingSession(userID int64, createdAt time.Time) *auth.Session {
	s := newSession(userID, createdAt)
	s.Pending = true
	s.ExpiresAt = createdAt.Add(5 * time.Minute)
	s.AccessExpiresAt = s.ExpiresAt
	s.Methods = []auth.Method{auth.MethodPassword}
	s.AuthenticatedAt = createdAt
	s.AuthenticatedBy = auth.MethodPassword
	return s
}

func testSessionProofRoundTrip(t *testing.T, st auth.Store) {
	u, _ := mustCreateUser(t, st, "ada@example.com")
	passkey := newSession(u.ID, t0.Add(time.Minute))
	passkey.Methods = []auth.Method{auth.MethodPasskey}
	passkey.AuthenticatedAt = t0.Add(time.Minute + 7*time.Microsecond)
	passkey.AuthenticatedBy = auth.MethodPasskey
	for _, s := range []*auth.Session{newPendingSession(u.ID, t0), passkey} {
		mustCreateSession(t, st, s)
		got := mustSession(t, st, s.ID)
		if d := cmp.Diff(got, s); d != "" {
			t.Errorf("Session(%q) of a session stored with Pending %v, Methods %q: mismatch (-got +want):\n%s", s.ID, s.Pending, s.Methods, d)
		}
		checkSessionUTC(t, "Session", got)
	}
}

func testFinishSession(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u, _ := mustCreateUser(t, st, "ada@example.com")
	s := mustCreateSession(t, st, newPendingSession(u.ID, t0))
	f := auth.SessionFinish{
		At:              t0.Add(time.Minute),
		AccessExpiresAt: t0.Add(61 * time.Minute),
		ExpiresAt:       t0.Add(time.Minute + 7*24*time.Hour),
		Methods:         []auth.Method{auth.MethodPassword, auth.MethodTOTP},
	}
	got, evicted, err := st.FinishSession(ctx, s.ID, s.Generation, f, 20)
	if err != nil || len(evicted) != 0 {
		t.Fatalf("FinishSession(%q, %d) = %q, %v, want no evictions and no error", s.ID, s.Generation, evicted, err)
	}
	want := *s
	want.Generation++
	want.RotatedAt, want.LastUsedAt, want.AuthenticatedAt = f.At, f.At, f.At
	want.AccessExpiresAt, want.ExpiresAt = f.AccessExpiresAt, f.ExpiresAt
	want.Pending = false
	want.Methods = f.Methods
	want.AuthenticatedBy = auth.MethodTOTP
	if d := cmp.Diff(got, &want); d != "" {
		t.Errorf("FinishSession(%q) mismatch (-got +want):\n%s", s.ID, d)
	}
	if d := cmp.Diff(mustSession(t, st, s.ID), &want); d != "" {
		t.Errorf("Session(%q) after FinishSession mismatch (-got +want):\n%s", s.ID, d)
	}
	// The pending tokens are retired like a refresh's: the change log
	// (the revocation stream, other nodes' caches) hears of it.
	changes, err := st.SessionChanges(ctx, 0, 100)
	if err != nil {
		t.Fatalf("SessionChanges = %v", err)
	}
	i := slices.IndexFunc(changes, func(c auth.SessionChange) bool { return c.SessionID == s.ID })
	if i < 0 || changes[i].Generation != want.Generation || changes[i].Revoked || !changes[i].RotatedAt.Equal(f.At) {
		t.Errorf("SessionChanges after FinishSession = %+v, want a rotation of %q to generation %d at %v", changes, s.ID, want.Generation, f.At)
	}
}

func testFinishSessionRefused(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u, complete := mustCreateUser(t, st, "ada@example.com")
	revoked := mustCreateSession(t, st, newPendingSession(u.ID, t0))
	if err := st.RevokeSession(ctx, revoked.ID, t0.Add(time.Second)); err != nil {
		t.Fatalf("RevokeSession(%q) = %v", revoked.ID, err)
	}
	pending := mustCreateSession(t, st, newPendingSession(u.ID, t0))
	f := auth.SessionFinish{At: t0.Add(time.Minute), AccessExpiresAt: t0.Add(time.Hour), ExpiresAt: t0.Add(24 * time.Hour),
		Methods: []auth.Method{auth.MethodPassword, auth.MethodTOTP}}
	tests := []struct {
		name string
		id   string
		from int64
		want error
	}{
		{name: "NotPending", id: complete.ID, from: complete.Generation, want: auth.ErrConflict},
		{name: "Revoked", id: revoked.ID, from: revoked.Generation, want: auth.ErrConflict},
		{name: "StaleGeneration", id: pending.ID, from: pending.Generation + 1, want: auth.ErrConflict},
		{name: "NotFound", id: newSessionID(), from: 0, want: auth.ErrNotFound},
	}
	for _, tt := range tests {
		if _, _, err := st.FinishSession(ctx, tt.id, tt.from, f, 20); !errors.Is(err, tt.want) {
			t.Errorf("FinishSession(%s) = %v, want %v", tt.name, err, tt.want)
		}
	}
	if got := mustSession(t, st, pending.ID); !got.Pending || got.Generation != pending.Generation {
		t.Errorf("Session(%q) after a refused finish: Pending %v, Generation %d, want true, %d", pending.ID, got.Pending, got.Generation, pending.Generation)
	}
}

func testFinishSessionConcurrent(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u, _ := mustCreateUser(t, st, "ada@example.com")
	s := mustCreateSession(t, st, newPendingSession(u.ID, t0))
	const n = 8
	errs := make([]error, n)
	Concurrently(n, func(i int) {
		at := t0.Add(time.Duration(i+1) * time.Second)
		_, _, errs[i] = st.FinishSession(ctx, s.ID, s.Generation, auth.SessionFinish{
			At: at, AccessExpiresAt: at.Add(time.Hour), ExpiresAt: at.Add(24 * time.Hour),
			Methods: []auth.Method{auth.MethodPassword, auth.MethodRecoveryCode},
		}, 20)
	})
	var ok int
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, auth.ErrConflict):
			t.Errorf("FinishSession(%q) in goroutine %d = %v, want nil or ErrConflict", s.ID, i, err)
		}
	}
	if ok != 1 {
		t.Errorf("%d concurrent FinishSession(%q): %d succeeded, want 1", n, s.ID, ok)
	}
}

// Pending sign-ins neither count towards the cap nor are evicted by it:
// a password alone must not end the owner's sessions, and the owner's
// sign-in must not be what makes room for them.
func testMaxPerUserSkipsPending(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u, first := mustCreateUser(t, st, "ada@example.com") // t0
	second := mustCreateSession(t, st, newSession(u.ID, t0.Add(time.Minute)))
	pending := []*auth.Session{
		mustCreateSession(t, st, newPendingSession(u.ID, t0.Add(-30*time.Second))), // older than all
		mustCreateSession(t, st, newPendingSession(u.ID, t0.Add(2*time.Minute))),
	}
	third := newSession(u.ID, t0.Add(3*time.Minute))
	evicted, err := st.CreateSession(ctx, third, 2)
	if err != nil {
		t.Fatalf("CreateSession(%q, 2) = %v", third.ID, err)
	}
	if d := cmp.Diff(evicted, []string{first.ID}); d != "" {
		t.Errorf("CreateSession(%q, 2) beside 2 complete and 2 pending sessions: evicted mismatch (-got +want):\n%s", third.ID, d)
	}
	// Finishing the newer pending sign-in counts it, and evicts the
	// oldest complete session, never the other pending one.
	f := auth.SessionFinish{At: t0.Add(4 * time.Minute), AccessExpiresAt: t0.Add(time.Hour), ExpiresAt: t0.Add(24 * time.Hour),
		Methods: []auth.Method{auth.MethodPassword, auth.MethodTOTP}}
	finished, evicted, err := st.FinishSession(ctx, pending[1].ID, pending[1].Generation, f, 2)
	if err != nil {
		t.Fatalf("FinishSession(%q, 2) = %v", pending[1].ID, err)
	}
	if d := cmp.Diff(evicted, []string{second.ID}); d != "" {
		t.Errorf("FinishSession(%q, 2): evicted mismatch (-got +want):\n%s", pending[1].ID, d)
	}
	if got := mustSession(t, st, second.ID); !got.RevokedAt.Equal(f.At) {
		t.Errorf("Session(%q) evicted by FinishSession: RevokedAt = %v, want %v", second.ID, got.RevokedAt, f.At)
	}
	assertLiveSessions(t, st, u.ID, f.At, third, finished, pending[0])
}

func testSetSessionProof(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u, s := mustCreateUser(t, st, "ada@example.com")
	at := t0.Add(3*time.Minute + 5*time.Microsecond)
	if err := st.SetSessionProof(ctx, s.ID, at, auth.MethodTOTP); err != nil {
		t.Fatalf("SetSessionProof(%q) = %v", s.ID, err)
	}
	want := *s
	want.AuthenticatedAt, want.AuthenticatedBy = at, auth.MethodTOTP
	if d := cmp.Diff(mustSession(t, st, s.ID), &want); d != "" {
		t.Errorf("Session(%q) after SetSessionProof mismatch (-got +want):\n%s", s.ID, d)
	}
	revoked := mustCreateSession(t, st, newSession(u.ID, t0))
	if err := st.RevokeSession(ctx, revoked.ID, t0.Add(time.Second)); err != nil {
		t.Fatalf("RevokeSession(%q) = %v", revoked.ID, err)
	}
	checkNotFound(t, "SetSessionProof(revoked)", st.SetSessionProof(ctx, revoked.ID, at, auth.MethodTOTP))
	checkNotFound(t, "SetSessionProof(absent)", st.SetSessionProof(ctx, newSessionID(), at, auth.MethodTOTP))
}
