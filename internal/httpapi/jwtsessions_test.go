package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

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

func newRailsCutover(t *testing.T, opt serverOptions) *railsCutover {
	t.Helper()
	gem := authtest.NewGemRedis(t)
	ts := newServer(t, opt)
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
	c := newRailsCutover(t, serverOptions{})
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
	c := newRailsCutover(t, serverOptions{})
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

	// A token Rails issued for the session after the import (its own
	// refresh) is refused, and the session goes on: not a reuse.
	later := railsSession(t, expired)
	later.access = authtest.GemAccessToken(testKey, expired.AccessExp, c.user, "0b9d5bd4-5c5e-4d7e-9b43-3c1f7e0c4e11", expired.RUID)
	wantError(t, c.ts.do(t, withTransport(later.viaHeader("POST", "/v1/auth/refresh"))), http.StatusUnauthorized, "not_authorized")
	c.ts.wantStatus(t, http.StatusOK, railsSession(t, expired).viaHeader("GET", "/v1/auth/me"))

	// Past its exp the gem's token is refused but still refreshes, as any.
	late := railsSession(t, expired)
	c.ts.clock.Advance(accessTTL)
	wantError(t, c.ts.do(t, late.viaHeader("GET", "/v1/auth/me")), http.StatusUnauthorized, "token_expired")
	c.ts.refresh(t, withTransport(late.viaCookie("POST", "/v1/auth/refresh")))

}

// TestRailsSessions_Bridge: with the bridge on, every token Gatehouse
// issues has the gem's access record, read back as the gem's fetch_access
// and CSRFToken#valid_authenticity_token? read it; a refresh retires the
// old token's record at the end of the grace window, a sign-out deletes
// the records at once (the imported token's, which Rails wrote, too); and
// while the bridge's Redis is unreachable the API keeps serving and the
// bridge catches up when it is back.
func TestRailsSessions_Bridge(t *testing.T) {
	t.Parallel()
	c, bridge := newBridgedCutover(t)
	imported := c.login(t)
	c.importSessions(t)
	proxy := authtest.StartProxy(t, c.gem.Client.Options().Addr)
	opt := *c.gem.Client.Options()
	opt.Addr, opt.MaxRetries = proxy.Addr, -1
	client := goredis.NewClient(&opt)
	t.Cleanup(func() { client.Close() })
	b := bridge(client)

	first := c.ts.signInTokens(t, "rails@example.com", "rails-secret-1")
	c.eventually(t, "the first sign-in's record", func() bool { return c.gemAccepts(t, first) })

	proxy.Cut()
	second := c.ts.signInTokens(t, "rails@example.com", "rails-secret-1")
	wantBody(t, c.ts.do(t, first.viaHeader("DELETE", "/v1/auth/sign_out")), http.StatusOK, `"ok"`)
	wantBody(t, c.ts.do(t, railsSession(t, imported).viaHeader("DELETE", "/v1/auth/sign_out")), http.StatusOK, `"ok"`)
	c.eventually(t, "a backlog while the Redis is away", func() bool { return b.Backlog() > 0 && b.Failures() > 0 })
	if !c.gemAccepts(t, first) {
		t.Errorf("the first sign-in's record went while the bridge's Redis was away")
	}
	proxy.Restore(t)
	c.eventually(t, "the bridge catching up", func() bool {
		return b.Backlog() == 0 && !c.gemAccepts(t, first) && c.gemAccepts(t, second) && !c.gemHas(t, imported.UID)
	})

	next := c.ts.refresh(t, byRefreshToken(second))
	c.eventually(t, "the refreshed token's record", func() bool { return c.gemAccepts(t, next) })
	ttl := c.gem.Client.TTL(t.Context(), c.gem.Prefix+"_access_"+claimsOf(t, second.access).UID).Val()
	if ttl <= 0 || ttl > refreshGrace {
		t.Errorf("TTL of the replaced token's record = %v, want (0, %v]: it ends with the grace window", ttl, refreshGrace)
	}
}

// newBridgedCutover is a cutover whose server passes its audit trail to a
// bridge, started by the returned function on the given Redis client.
func newBridgedCutover(t *testing.T) (*railsCutover, func(*goredis.Client) *jwtsessions.Bridge) {
	t.Helper()
	var bridge atomic.Pointer[jwtsessions.Bridge]
	c := newRailsCutover(t, serverOptions{onEvent: func(e auth.Event) {
		if b := bridge.Load(); b != nil {
			b.Event(e)
		}
	}})
	return c, func(client *goredis.Client) *jwtsessions.Bridge {
		b := jwtsessions.NewBridge(c.ts.svc, client, c.gem.Prefix, slog.New(slog.DiscardHandler))
		bridge.Store(b)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { b.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
		return b
	}
}

// gemAccepts reports whether the gem would find s's access token and
// accept its CSRF token: fetch_access reads the record (GET), and
// CSRFToken.new(record).valid_authenticity_token? compares s's masked
// token with the strict-base64-decoded record.
func (c *railsCutover) gemAccepts(t *testing.T, s session) bool {
	t.Helper()
	uid := claimsOf(t, s.access).UID
	v, err := c.gem.Client.Get(t.Context(), c.gem.Prefix+"_access_"+uid).Result()
	if errors.Is(err, goredis.Nil) {
		return false
	}
	if err != nil {
		t.Fatalf("GET access record of %s: %v", uid, err)
	}
	exp := c.gem.Client.ExpireTime(t.Context(), c.gem.Prefix+"_access_"+uid).Val()
	if want := time.Duration(claimsOf(t, s.access).Exp) * time.Second; exp != want {
		t.Errorf("EXPIRETIME of the access record of %s = %v, want the token's exp %v", uid, exp, want)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(v)
	if err != nil || len(v) != 44 {
		t.Fatalf("access record of %s = %q, want the CSRF secret in strict base64, 44 characters", uid, v)
	}
	return csrf.Valid(s.csrf, raw)
}

func (c *railsCutover) gemHas(t *testing.T, uid string) bool {
	t.Helper()
	n, err := c.gem.Client.Exists(t.Context(), c.gem.Prefix+"_access_"+uid).Result()
	if err != nil {
		t.Fatalf("EXISTS: %v", err)
	}
	return n == 1
}

// eventually polls cond for up to 10 s: the bridge works in the
// background.
func (c *railsCutover) eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRailsSessions_Ruby: the same cutover with the Rails side played by
// Ruby's jwt and redis libraries (testdata/rails/jwt_sessions.rb, what the
// gem does with them): a sign-in made there works on Gatehouse after the
// import, and with the bridge on, Ruby authorizes Gatehouse's token and
// refuses it after sign-out.
func TestRailsSessions_Ruby(t *testing.T) {
	t.Parallel()
	if err := exec.Command("ruby", "-e", `require "jwt"; require "redis"`).Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("ruby with jwt and redis: %v (CI installs ruby, ruby-jwt, ruby-redis)", err)
		}
		t.Skipf("needs ruby with ruby-jwt and ruby-redis: %v", err)
	}
	c, bridge := newBridgedCutover(t)
	rails := func(args ...string) string {
		t.Helper()
		url := authtest.RequireService(t, "GATEHOUSE_TEST_REDIS_URL")
		args = append([]string{"testdata/rails/jwt_sessions.rb", args[0], url, c.gem.Prefix, string(testKey)}, args[1:]...)
		out, err := exec.Command("ruby", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ruby %s: %v\n%s", args[1], err, out)
		}
		return strings.TrimSpace(string(out))
	}
	var signedIn struct{ Access, CSRF, RUID string }
	if err := json.Unmarshal([]byte(rails("login", strconv.FormatInt(c.user, 10))), &signedIn); err != nil {
		t.Fatalf("ruby login: %v", err)
	}
	if rep := c.importSessions(t); rep.Imported != 1 {
		t.Fatalf("import of the Ruby sign-in: %+v, want 1 imported", rep)
	}
	old := session{access: signedIn.Access, csrf: signedIn.CSRF}
	c.ts.wantStatus(t, http.StatusOK, old.viaHeader("GET", "/v1/auth/me"))
	c.ts.wantStatus(t, http.StatusNotFound, old.viaCookie("DELETE", "/v1/auth/sessions/no-such-session"))

	bridge(c.gem.Client)
	s := c.ts.signInTokens(t, "rails@example.com", "rails-secret-1")
	c.eventually(t, "Ruby authorizing Gatehouse's token", func() bool { return rails("authorize", s.access, s.csrf) == "ok" })
	wantBody(t, c.ts.do(t, s.viaHeader("DELETE", "/v1/auth/sign_out")), http.StatusOK, `"ok"`)
	c.eventually(t, "Ruby refusing it after sign-out", func() bool {
		return rails("authorize", s.access, s.csrf) == "unauthorized: access token not found"
	})
}
