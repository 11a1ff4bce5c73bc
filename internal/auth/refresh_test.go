package auth_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authtest"
	"github.com/gatehouse/gatehouse/internal/csrf"
	"github.com/gatehouse/gatehouse/internal/token"
)

// credential is how a client presents a grant on refresh.
type credential struct {
	name    string
	request func(g *auth.Grant) auth.RefreshRequest
	// staleErr is the answer to a stale credential: reuse, whatever the
	// transport (a stale cookie comes with its own stale CSRF token).
	staleErr error
}

var credentials = []credential{
	{"AccessToken", func(g *auth.Grant) auth.RefreshRequest {
		return auth.RefreshRequest{AccessToken: g.AccessToken, Client: testClient}
	}, auth.ErrRefreshReused},
	{"RefreshToken", func(g *auth.Grant) auth.RefreshRequest {
		return auth.RefreshRequest{RefreshToken: g.RefreshToken, Client: testClient}
	}, auth.ErrRefreshReused},
	{"CookieWithCSRF", func(g *auth.Grant) auth.RefreshRequest {
		return auth.RefreshRequest{AccessToken: g.AccessToken, CheckCSRF: true, CSRFToken: csrf.Mask(g.CSRFSecret), Client: testClient}
	}, auth.ErrRefreshReused},
}

func (e *env) generation(t *testing.T, id string) int64 {
	t.Helper()
	s, err := e.store.Session(t.Context(), id)
	if err != nil {
		t.Fatalf("store.Session(%q) = %v", id, err)
	}
	return s.Generation
}

func TestRefresh_Rotates(t *testing.T) {
	t.Parallel()
	for _, cr := range credentials {
		for _, expired := range []bool{false, true} {
			name := cr.name
			if expired {
				name += "Expired" // refresh-by-access takes expired, correctly signed tokens
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t)
				g0 := e.register(t, "ada@example.com")
				e.clock.Advance(time.Minute)
				if expired {
					e.clock.Advance(2 * time.Hour)
					checkAuth(t, e.svc, "g0", g0.AccessToken, auth.ErrTokenExpired)
				}
				g1 := e.refresh(t, cr.request(g0))
				c0, c1 := claims(t, g0.AccessToken), claims(t, g1.AccessToken)
				if g1.SessionID != g0.SessionID || c1.RUID != c0.RUID || g1.UserID != g0.UserID {
					t.Errorf("Refresh moved session %q user %d to %q user %d", g0.SessionID, g0.UserID, g1.SessionID, g1.UserID)
				}
				if c1.UID == c0.UID || g1.RefreshToken == g0.RefreshToken || string(g1.CSRFSecret) == string(g0.CSRFSecret) {
					t.Error("Refresh kept the uid, refresh token or CSRF secret, want all new")
				}
				if want := e.clock.Now().Add(time.Hour).Truncate(time.Second); !g1.AccessExpiresAt.Equal(want) || c1.Exp != want.Unix() {
					t.Errorf("Refresh AccessExpiresAt = %v (exp %d), want %v", g1.AccessExpiresAt, c1.Exp, want)
				}
				if !g1.RefreshExpiresAt.Equal(g0.RefreshExpiresAt) {
					t.Errorf("Refresh RefreshExpiresAt = %v, want the session's end %v (never extended)", g1.RefreshExpiresAt, g0.RefreshExpiresAt)
				}
				if gen := e.generation(t, g0.SessionID); gen != 1 {
					t.Errorf("after Refresh the session is at generation %d, want 1", gen)
				}
				if p := mustAuth(t, e.svc, g1.AccessToken); p.AccessID != c1.UID {
					t.Errorf("Authenticate(new token).AccessID = %q, want %q", p.AccessID, c1.UID)
				}
				if n := len(e.events.Of(auth.EventRefreshed)); n != 1 {
					t.Errorf("%d refresh events, want 1", n)
				}
				// Never past the session's end, even when refreshed close to it.
				e.clock.Advance(g1.RefreshExpiresAt.Sub(e.clock.Now()) - 10*time.Minute)
				g2 := e.refresh(t, cr.request(g1))
				if want := g1.RefreshExpiresAt.Truncate(time.Second); !g2.AccessExpiresAt.Equal(want) {
					t.Errorf("Refresh 10 min before the end: AccessExpiresAt = %v, want the session's end %v", g2.AccessExpiresAt, want)
				}
			})
		}
	}
}

// The credential just replaced, within the grace window, gets exactly the
// grant its replacement got (concurrent tabs); after the window it is reuse
// and revokes the session.
func TestRefresh_PreviousGeneration(t *testing.T) {
	t.Parallel()
	for _, cr := range credentials {
		t.Run(cr.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			g0 := e.register(t, "ada@example.com")
			e.clock.Advance(time.Minute)
			g1 := e.refresh(t, cr.request(g0))

			e.clock.Advance(9 * time.Second)
			again := e.refresh(t, cr.request(g0))
			if d := cmp.Diff(again, g1); d != "" {
				t.Errorf("Refresh(previous, in grace) differs from the winner's grant (-got +want):\n%s", d)
			}
			if gen := e.generation(t, g0.SessionID); gen != 1 {
				t.Errorf("after a refresh in grace the session is at generation %d, want still 1", gen)
			}

			e.clock.Advance(time.Second)
			_, err := e.svc.Refresh(t.Context(), cr.request(g0))
			checkErr(t, "Refresh(previous, after grace)", err, cr.staleErr)
			if cr.staleErr != auth.ErrRefreshReused {
				checkAuth(t, e.svc, "newest token after refused stale cookie", g1.AccessToken, nil)
				return
			}
			checkAuth(t, e.svc, "newest token after reuse", g1.AccessToken, auth.ErrNotAuthorized)
			checkAuth(t, e.newNode(t), "newest token after reuse, other node", g1.AccessToken, auth.ErrNotAuthorized)
			_, err = e.svc.Refresh(t.Context(), cr.request(g1))
			checkErr(t, "Refresh(newest, after reuse)", err, auth.ErrNotAuthorized)
			want := []auth.Event{{Type: auth.EventRefreshReused, UserID: g0.UserID, SessionID: g0.SessionID, IP: testClient.IP, Reason: "refresh_reuse"}}
			if d := cmp.Diff(e.events.Of(auth.EventRefreshReused), want); d != "" {
				t.Errorf("refresh_reused events mismatch (-got +want):\n%s", d)
			}
		})
	}
}

func TestRefresh_TwoGenerationsOld(t *testing.T) {
	t.Parallel()
	for _, cr := range credentials {
		t.Run(cr.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			g0 := e.register(t, "ada@example.com")
			e.clock.Advance(time.Second)
			g1 := e.refresh(t, cr.request(g0))
			e.clock.Advance(time.Second)
			g2 := e.refresh(t, cr.request(g1))
			// Well within every grace window, and still reuse.
			_, err := e.svc.Refresh(t.Context(), cr.request(g0))
			checkErr(t, "Refresh(two generations old)", err, cr.staleErr)
			var want error = auth.ErrNotAuthorized
			if cr.staleErr != auth.ErrRefreshReused {
				want = nil
			}
			checkAuth(t, e.svc, "newest token after stale refresh", g2.AccessToken, want)
		})
	}
}

// A signed token of the session with a uid of no generation (only a key
// holder can make one) is an older generation: reuse, at any generation.
// At generation 0 it used to match "previous generation" (-1 == 0-1) and
// got the current grant.
func TestRefresh_ForeignUID(t *testing.T) {
	t.Parallel()
	for _, refreshes := range []int{0, 1} {
		e := newEnv(t)
		g := e.register(t, "ada@example.com")
		for range refreshes {
			g = e.refresh(t, auth.RefreshRequest{RefreshToken: g.RefreshToken})
		}
		c := claims(t, g.AccessToken)
		c.UID = token.NewUID()
		got, err := e.svc.Refresh(t.Context(), auth.RefreshRequest{AccessToken: forge(t, testKey(), c)})
		checkErr(t, fmt.Sprintf("Refresh(foreign uid) at generation %d", refreshes), err, auth.ErrRefreshReused)
		if got != nil {
			t.Errorf("Refresh(foreign uid) at generation %d granted %+v", refreshes, got)
		}
	}
}

// A failed CSRF check is reported before anything else and changes
// nothing: a cross-site request must not be able to burn a session, even
// with a stale cookie.
func TestRefresh_CSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g0 := e.register(t, "ada@example.com")
	cookie := func(g *auth.Grant, csrfToken string) auth.RefreshRequest {
		return auth.RefreshRequest{AccessToken: g.AccessToken, CheckCSRF: true, CSRFToken: csrfToken}
	}
	for _, bad := range []string{"", "junk", csrf.Mask(csrf.NewSecret())} {
		_, err := e.svc.Refresh(t.Context(), cookie(g0, bad))
		checkErr(t, "Refresh(cookie, CSRF "+bad+")", err, auth.ErrCSRFInvalid)
	}
	if gen := e.generation(t, g0.SessionID); gen != 0 {
		t.Fatalf("after failed CSRF checks the session is at generation %d, want 0", gen)
	}
	g1 := e.refresh(t, cookie(g0, csrf.Mask(g0.CSRFSecret)))
	// In grace the previous cookie with the previous CSRF token is the
	// other tab: same grant.
	if again := e.refresh(t, cookie(g0, csrf.Mask(g0.CSRFSecret))); again.AccessToken != g1.AccessToken {
		t.Error("Refresh(previous cookie + previous CSRF, in grace) got a different access token")
	}
	e.clock.Advance(time.Minute)
	// Stale cookie, unknown CSRF: refused without revoking.
	_, err := e.svc.Refresh(t.Context(), cookie(g0, csrf.Mask(csrf.NewSecret())))
	checkErr(t, "Refresh(stale cookie, unknown CSRF after grace)", err, auth.ErrCSRFInvalid)
	checkAuth(t, e.svc, "newest token after refused stale refresh", g1.AccessToken, nil)
	// Stale cookie with its own CSRF token: that is what a victim holds
	// after a thief refreshed first, so it is reuse and ends the session.
	_, err = e.svc.Refresh(t.Context(), cookie(g0, csrf.Mask(g0.CSRFSecret)))
	checkErr(t, "Refresh(stale cookie, its own CSRF after grace)", err, auth.ErrRefreshReused)
	checkAuth(t, e.svc, "newest token after reuse", g1.AccessToken, auth.ErrNotAuthorized)
}

func TestRefresh_NotAuthorized(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		request func(t *testing.T, e *env, g *auth.Grant) auth.RefreshRequest
	}{
		{"Empty", func(t *testing.T, e *env, g *auth.Grant) auth.RefreshRequest { return auth.RefreshRequest{} }},
		{"SignedOut", func(t *testing.T, e *env, g *auth.Grant) auth.RefreshRequest {
			if err := e.svc.SignOut(t.Context(), mustAuth(t, e.svc, g.AccessToken), testClient); err != nil {
				t.Fatal(err)
			}
			return auth.RefreshRequest{RefreshToken: g.RefreshToken}
		}},
		{"SessionExpiredByAccess", func(t *testing.T, e *env, g *auth.Grant) auth.RefreshRequest {
			e.clock.Advance(g.RefreshExpiresAt.Sub(t0))
			return auth.RefreshRequest{AccessToken: g.AccessToken}
		}},
		{"SessionExpiredByRefresh", func(t *testing.T, e *env, g *auth.Grant) auth.RefreshRequest {
			e.clock.Advance(g.RefreshExpiresAt.Sub(t0))
			return auth.RefreshRequest{RefreshToken: g.RefreshToken}
		}},
		{"TamperedAccessToken", func(t *testing.T, e *env, g *auth.Grant) auth.RefreshRequest {
			return auth.RefreshRequest{AccessToken: tamper(g.AccessToken, -3)}
		}},
		{"TamperedRefreshToken", func(t *testing.T, e *env, g *auth.Grant) auth.RefreshRequest {
			return auth.RefreshRequest{RefreshToken: tamper(g.RefreshToken, -3)}
		}},
		{"AccessTokenAsRefreshToken", func(t *testing.T, e *env, g *auth.Grant) auth.RefreshRequest {
			return auth.RefreshRequest{RefreshToken: g.AccessToken}
		}},
		{"OtherKey", func(t *testing.T, e *env, g *auth.Grant) auth.RefreshRequest {
			return auth.RefreshRequest{AccessToken: forge(t, []byte("another-key-another-key-another-key"), claims(t, g.AccessToken))}
		}},
		{"OtherUser", func(t *testing.T, e *env, g *auth.Grant) auth.RefreshRequest {
			c := claims(t, g.AccessToken)
			c.UserID++
			return auth.RefreshRequest{AccessToken: forge(t, testKey(), c)}
		}},
		{"UnknownSession", func(t *testing.T, e *env, g *auth.Grant) auth.RefreshRequest {
			c := claims(t, g.AccessToken)
			c.RUID = token.NewUID()
			return auth.RefreshRequest{AccessToken: forge(t, testKey(), c)}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			g := e.register(t, "ada@example.com")
			got, err := e.svc.Refresh(t.Context(), tt.request(t, e, g))
			checkErr(t, "Refresh("+tt.name+")", err, auth.ErrNotAuthorized)
			if got != nil {
				t.Errorf("Refresh(%s) granted %+v", tt.name, got)
			}
		})
	}
}

// Run with -race. Eight tabs refresh with the same credential at once: one
// rotates, the rest get the winner's grant, nobody is logged out.
func TestRefresh_Concurrent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.register(t, "ada@example.com")
	const tabs, rounds = 8, 6
	for round := range rounds {
		cr := credentials[round%len(credentials)]
		grants := make([]*auth.Grant, tabs)
		errs := make([]error, tabs)
		authtest.Concurrently(tabs, func(i int) {
			grants[i], errs[i] = e.svc.Refresh(context.Background(), cr.request(g))
		})
		for i := range tabs {
			if errs[i] != nil {
				t.Fatalf("round %d (%s): Refresh #%d = %v", round, cr.name, i, errs[i])
			}
			if d := cmp.Diff(grants[i], grants[0]); d != "" {
				t.Errorf("round %d (%s): grant #%d differs from #0 (-got +want):\n%s", round, cr.name, i, d)
			}
		}
		if gen := e.generation(t, g.SessionID); gen != int64(round+1) {
			t.Fatalf("round %d: session at generation %d, want %d (one rotation per round)", round, gen, round+1)
		}
		g = grants[0]
		mustAuth(t, e.svc, g.AccessToken)
		e.clock.Advance(time.Second)
	}
}
