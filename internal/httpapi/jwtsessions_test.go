package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authtest"
	"github.com/gatehouse/gatehouse/internal/csrf"
	"github.com/gatehouse/gatehouse/internal/jwtsessions"
)

// The Rails app's sign-ins, written to a real Redis as the jwt_sessions gem
// writes them (authtest.GemRedis names the gem's sources), imported, and
// used with the tokens the gem minted, signed with the server's key as the
// Rails key.

// railsCutover is a server whose clock is the real time (Redis expires the
// gem's records by the wall clock), with users the gem signed in.
type railsCutover struct {
	ts   *testServer
	gem  *authtest.GemRedis
	user int64
}

func newRailsCutover(t *testing.T) *railsCutover {
	t.Helper()
	gem := authtest.NewGemRedis(t)
	ts := newServer(t, serverOptions{})
	ts.clock.Advance(time.Now().Truncate(time.Second).Sub(epoch))
	// Users come first (users import keeps ids); registering is the
	// shortest way to a user here.
	user := claimsOf(t, ts.register(t, "rails@example.com", "rails-secret-1").access).UserID
	return &railsCutover{ts: ts, gem: gem, user: user}
}

// importSessions runs the import on the gem's Redis.
func (c *railsCutover) importSessions(t *testing.T) *auth.SessionImportReport {
	t.Helper()
	src := jwtsessions.NewSource(t.Context(), c.gem.Client, c.gem.Prefix, mustNamespace(t, jwtsessions.DefaultNamespace))
	rep, err := c.ts.svc.ImportSessions(t.Context(), src, auth.SessionImportOptions{})
	if err != nil {
		t.Fatalf("ImportSessions = %+v, %v", rep, err)
	}
	return rep
}

func mustNamespace(t *testing.T, tmpl string) jwtsessions.Namespace {
	t.Helper()
	ns, err := jwtsessions.ParseNamespace(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// login signs the user in on the gem.
func (c *railsCutover) login(t *testing.T) authtest.GemSession {
	t.Helper()
	return c.gem.Login(t, testKey, c.user, c.ts.clock.Now(), accessTTL, 14*24*time.Hour)
}

// railsSession is how the Rails app's client holds gs: the access token
// and a masked CSRF token, as the gem's CSRFToken#token hands out.
func railsSession(t *testing.T, gs authtest.GemSession) session {
	t.Helper()
	raw, err := csrf.Unmask(gs.CSRF)
	if err != nil {
		t.Fatalf("gem CSRF %q: %v", gs.CSRF, err)
	}
	return session{access: gs.AccessToken, csrf: csrf.Mask(raw)}
}

// TestRailsSessions_Import: what the import takes, what it skips and why,
// and that a re-run imports nothing twice.
func TestRailsSessions_Import(t *testing.T) {
	t.Parallel()
	c := newRailsCutover(t)
	now := c.ts.clock.Now()
	live := []authtest.GemSession{c.login(t), c.login(t)}
	c.gem.Login(t, testKey, 1<<40, now, accessTTL, 2*time.Hour) // a user never imported
	c.gem.PersistRefresh(t, "user_x", "7c5e150b-6445-495e-bd89-d4d442ff813a", now.Unix()+60, "u", live[0].CSRF, now.Unix()+600)
	badCSRF := "not base64 of 32 bytes"
	c.gem.PersistRefresh(t, "user_1", "d0cd7c6b-072e-4177-8341-a5caf1bc40ca", now.Unix()+60, "u", badCSRF, now.Unix()+600)
	// Ends within the hour: expired by the time the import runs (the
	// server's clock is moved, Redis keeps it).
	c.gem.Login(t, testKey, c.user, now, time.Minute, time.Hour)
	c.ts.clock.Advance(time.Hour)

	rep := c.importSessions(t)
	if rep.Imported != 2 || rep.Present != 0 || rep.UnknownUser != 1 || rep.Expired != 1 || rep.Malformed != 2 {
		t.Errorf("first import: %+v, want 2 imported, 1 unknown user, 1 expired, 2 malformed", rep)
	}
	if len(rep.Problems) != 3 {
		t.Errorf("first import: problems %q, want 3 (unknown user and malformed)", rep.Problems)
	}
	rep = c.importSessions(t)
	if rep.Imported != 0 || rep.Present != 2 {
		t.Errorf("second import: %+v, want 0 imported, 2 present", rep)
	}
	for _, gs := range live {
		sess, err := c.ts.store.Session(t.Context(), gs.RUID)
		if err != nil {
			t.Fatalf("Session(%s) after import: %v", gs.RUID, err)
		}
		if sess.UserID != c.user || sess.ExpiresAt.Unix() != gs.Exp || sess.AccessExpiresAt.Unix() != gs.AccessExp {
			t.Errorf("Session(%s) = user %d, exp %v, access exp %v; want %d, %d, %d",
				gs.RUID, sess.UserID, sess.ExpiresAt.Unix(), sess.AccessExpiresAt.Unix(), c.user, gs.Exp, gs.AccessExp)
		}
	}
}

// TestRailsSessions_OldTokensKeepWorking: a token the gem issued before the
// switch authenticates until its exp, its cookie plus CSRF token (masked
// or raw) passes unsafe requests, refresh-by-access moves the session onto
// Gatehouse's own secrets (the old token then lasts only the grace window),
// and sign-out ends it.
func TestRailsSessions_OldTokensKeepWorking(t *testing.T) {
	t.Parallel()
	c := newRailsCutover(t)
	refreshed, signedOut, expired := c.login(t), c.login(t), c.login(t)
	if rep := c.importSessions(t); rep.Imported != 3 {
		t.Fatalf("import: %+v, want 3 imported", rep)
	}
	old := railsSession(t, refreshed)
	unsafe := func(s session) request { return s.viaCookie("DELETE", "/v1/auth/sessions/no-such-session") }
	rawCSRF := old
	rawCSRF.csrf = refreshed.CSRF
	wrongCSRF := old
	wrongCSRF.csrf = railsSession(t, signedOut).csrf

	c.ts.wantStatus(t, http.StatusOK, old.viaHeader("GET", "/v1/auth/me"), old.viaCookie("GET", "/v1/auth/me"))
	c.ts.wantStatus(t, http.StatusNotFound, unsafe(old), unsafe(rawCSRF))
	wantError(t, c.ts.do(t, unsafe(wrongCSRF)), http.StatusUnauthorized, "csrf_invalid")

	next := c.ts.refresh(t, byAuthorization(old))
	if got := claimsOf(t, next.access); got.RUID != refreshed.RUID || got.UID == refreshed.UID || got.UserID != c.user {
		t.Errorf("refresh by the gem's token: claims %+v, want ruid %s, user %d and a new uid", got, refreshed.RUID, c.user)
	}
	c.ts.wantStatus(t, http.StatusOK, next.viaHeader("GET", "/v1/auth/me"), old.viaHeader("GET", "/v1/auth/me"))
	c.ts.clock.Advance(refreshGrace)
	wantError(t, c.ts.do(t, old.viaHeader("GET", "/v1/auth/me")), http.StatusUnauthorized, "not_authorized")
	next = c.ts.refresh(t, byRefreshToken(next))
	c.ts.wantStatus(t, http.StatusOK, next.viaHeader("GET", "/v1/auth/me"))

	gone := railsSession(t, signedOut)
	wantBody(t, c.ts.do(t, gone.viaCookie("DELETE", "/v1/auth/sign_out")), http.StatusOK, `"ok"`)
	wantError(t, c.ts.do(t, gone.viaHeader("GET", "/v1/auth/me")), http.StatusUnauthorized, "not_authorized")

	// Past its exp the gem's token is refused but still refreshes, as any.
	late := railsSession(t, expired)
	c.ts.clock.Advance(accessTTL)
	wantError(t, c.ts.do(t, late.viaHeader("GET", "/v1/auth/me")), http.StatusUnauthorized, "token_expired")
	c.ts.refresh(t, withTransport(late.viaCookie("POST", "/v1/auth/refresh")))

	// Every imported session has moved on or ended: nothing is left to keep.
	st := c.ts.store.(auth.ImportedSessionStore)
	now := c.ts.clock.Now()
	if n, err := st.PruneImportedSecrets(t.Context(), now, now.Add(-refreshGrace)); n != 2 || err != nil {
		t.Errorf("PruneImportedSecrets in the last refresh's grace window = %d, %v; want 2 deleted", n, err)
	}
	now = now.Add(refreshGrace + time.Second)
	if n, err := st.PruneImportedSecrets(t.Context(), now, now.Add(-refreshGrace)); n != 1 || err != nil {
		t.Errorf("PruneImportedSecrets after it = %d, %v; want 1 deleted", n, err)
	}
}
