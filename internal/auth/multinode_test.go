package auth_test

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// Two nodes, A and B, share one store and key, as two servers behind a load
// balancer do. B has seen the session (cached it) before A changes it.
func twoNodes(t *testing.T) (e *env, a, b *auth.Service, g *auth.Grant) {
	t.Helper()
	e = newEnv(t)
	a, b = e.svc, e.newNode(t)
	g = e.register(t, "ada@example.com")
	mustAuth(t, b, g.AccessToken)
	return e, a, b, g
}

// A token newer than B's copy makes B reload the session once; from then
// on B applies the grace window like A does.
func TestMultiNode_RefreshElsewhere_NewTokenFirst(t *testing.T) {
	t.Parallel()
	e, _, b, g0 := twoNodes(t)
	e.clock.Advance(time.Minute)
	g1 := e.refresh(t, auth.RefreshRequest{RefreshToken: g0.RefreshToken})
	checkAuth(t, b, "new token on B", g1.AccessToken, nil)
	checkAuth(t, b, "old token on B in grace", g0.AccessToken, nil)
	e.clock.Advance(10 * time.Second)
	checkAuth(t, b, "old token on B after grace", g0.AccessToken, auth.ErrNotAuthorized)
	checkAuth(t, b, "new token on B after grace", g1.AccessToken, nil)
}

// With the change feed's notice, B applies the grace window to the old
// token even before it sees the new one.
func TestMultiNode_RefreshElsewhere_Announced(t *testing.T) {
	t.Parallel()
	e, _, b, g0 := twoNodes(t)
	e.clock.Advance(time.Minute)
	g1 := e.refresh(t, auth.RefreshRequest{RefreshToken: g0.RefreshToken})
	b.SessionChanged(g0.SessionID, 1, false)
	checkAuth(t, b, "old token on B in grace", g0.AccessToken, nil)
	e.clock.Advance(10 * time.Second)
	checkAuth(t, b, "old token on B after grace", g0.AccessToken, auth.ErrNotAuthorized)
	checkAuth(t, b, "new token on B", g1.AccessToken, nil)
}

// Without a notice B keeps trusting its copy: the old token works on B
// past the grace window until the feed tells B. This is why multi-node
// deployments need the feed (or SetFeedHealthy(false) without one).
func TestMultiNode_RefreshElsewhere_NotAnnounced(t *testing.T) {
	t.Parallel()
	e, _, b, g0 := twoNodes(t)
	e.clock.Advance(time.Minute)
	e.refresh(t, auth.RefreshRequest{RefreshToken: g0.RefreshToken})
	e.clock.Advance(10 * time.Second)
	checkAuth(t, b, "old token on B after grace, not told", g0.AccessToken, nil)
	b.SessionChanged(g0.SessionID, 1, false)
	checkAuth(t, b, "old token on B after grace, told", g0.AccessToken, auth.ErrNotAuthorized)
}

// Two refreshes on A in quick succession: the middle token is the previous
// generation and in grace, so B must accept it after reloading, as A does.
func TestMultiNode_TwoRefreshesElsewhere(t *testing.T) {
	t.Parallel()
	e, a, b, g0 := twoNodes(t)
	e.clock.Advance(time.Minute)
	g1 := e.refresh(t, auth.RefreshRequest{RefreshToken: g0.RefreshToken})
	e.clock.Advance(time.Second)
	g2 := e.refresh(t, auth.RefreshRequest{RefreshToken: g1.RefreshToken})
	checkAuth(t, a, "middle token on A in grace", g1.AccessToken, nil)
	checkAuth(t, b, "middle token on B in grace", g1.AccessToken, nil)
	checkAuth(t, b, "newest token on B", g2.AccessToken, nil)
	checkAuth(t, b, "first token on B", g0.AccessToken, auth.ErrNotAuthorized)
}

func TestMultiNode_SignOutElsewhere(t *testing.T) {
	t.Parallel()
	_, a, b, g := twoNodes(t)
	if err := a.SignOut(t.Context(), mustAuth(t, a, g.AccessToken), testClient); err != nil {
		t.Fatalf("A.SignOut() = %v", err)
	}
	checkAuth(t, a, "token on A after sign-out", g.AccessToken, auth.ErrNotAuthorized)
	checkAuth(t, b, "token on B after sign-out, not told", g.AccessToken, nil)
	b.SessionChanged(g.SessionID, 0, true)
	checkAuth(t, b, "token on B after sign-out, told", g.AccessToken, auth.ErrNotAuthorized)
}

// While its feed is down B reads every session from the store, so it sees
// A's sign-out without being told; when the feed is back B starts from an
// empty cache.
func TestMultiNode_FeedDown(t *testing.T) {
	t.Parallel()
	_, a, b, g := twoNodes(t)
	b.SetFeedHealthy(false)
	if err := a.SignOut(t.Context(), mustAuth(t, a, g.AccessToken), testClient); err != nil {
		t.Fatalf("A.SignOut() = %v", err)
	}
	checkAuth(t, b, "token on B, feed down", g.AccessToken, auth.ErrNotAuthorized)
	b.SetFeedHealthy(true)
	checkAuth(t, b, "token on B, feed back", g.AccessToken, auth.ErrNotAuthorized)
}

// A change missed while the feed was down (here: a notice that never
// came) is forgotten with the cache when the feed comes back.
func TestMultiNode_FeedBackResetsCache(t *testing.T) {
	t.Parallel()
	_, a, b, g := twoNodes(t)
	if err := a.SignOut(t.Context(), mustAuth(t, a, g.AccessToken), testClient); err != nil {
		t.Fatalf("A.SignOut() = %v", err)
	}
	checkAuth(t, b, "token on B, notice lost", g.AccessToken, nil)
	b.SetFeedHealthy(false)
	b.SetFeedHealthy(true)
	checkAuth(t, b, "token on B after the feed came back", g.AccessToken, auth.ErrNotAuthorized)
}

// A load that read the store before a change and lands after the change's
// notice must not bring the old state back. The store here still says
// "live, generation 0", standing in for such a slow read.
func TestMultiNode_StaleLoadCannotResurrect(t *testing.T) {
	t.Parallel()
	t.Run("Revocation", func(t *testing.T) {
		t.Parallel()
		_, a, b, g := twoNodes(t)
		b.SessionChanged(g.SessionID, 0, true)
		checkAuth(t, b, "token on B after the revocation notice", g.AccessToken, auth.ErrNotAuthorized)
		b.SetFeedHealthy(false) // every lookup now loads from the store
		checkAuth(t, b, "token on B, loaded from the stale store", g.AccessToken, auth.ErrNotAuthorized)
		checkAuth(t, a, "token on A", g.AccessToken, nil)
	})
	t.Run("Rotation", func(t *testing.T) {
		t.Parallel()
		_, a, b, g := twoNodes(t)
		b.SessionChanged(g.SessionID, 5, false)
		// A load older than the announced generation is refused: B fails
		// closed until the store catches up.
		checkAuth(t, b, "token on B, store behind the notice", g.AccessToken, auth.ErrNotAuthorized)
		checkAuth(t, a, "token on A", g.AccessToken, nil)
	})
}

// B still caches generation 0 when it is shown the refresh token A
// already rotated away from: B's compare-and-swap from its cached
// generation loses, and the authoritative read decides: in the grace
// window the current tokens, after it reuse, which revokes the session.
func TestMultiNode_RefreshWithStaleCache(t *testing.T) {
	t.Parallel()
	e, _, b, g0 := twoNodes(t)
	e.clock.Advance(time.Minute)
	g1 := e.refresh(t, auth.RefreshRequest{RefreshToken: g0.RefreshToken})
	got, err := b.Refresh(t.Context(), auth.RefreshRequest{RefreshToken: g0.RefreshToken, Client: testClient})
	if err != nil || got.RefreshToken != g1.RefreshToken {
		t.Fatalf("refresh on B with the previous token in grace = %v; want A's current tokens", err)
	}
	e.clock.Advance(10 * time.Second)
	if _, err := b.Refresh(t.Context(), auth.RefreshRequest{RefreshToken: g0.RefreshToken, Client: testClient}); !errors.Is(err, auth.ErrRefreshReused) {
		t.Fatalf("refresh on B with the previous token after grace = %v, want ErrRefreshReused", err)
	}
	checkAuth(t, b, "current token on B after reuse", g1.AccessToken, auth.ErrNotAuthorized)
}
