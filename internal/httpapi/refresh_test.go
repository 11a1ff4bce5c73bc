package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/token"
)

const (
	refreshEmail    = "tab@example.com"
	refreshPassword = "refresh-secret-1"
)

// refreshFixture is one user with a browser session (cookie) and a script
// session (tokens in the body), on a server of its own so the test can
// move the clock.
type refreshFixture struct {
	ts      *testServer
	browser session
	script  session
}

func newRefreshFixture(t *testing.T) refreshFixture {
	t.Helper()
	ts := newServer(t, serverOptions{})
	browser := ts.register(t, refreshEmail, refreshPassword)
	return refreshFixture{ts: ts, browser: browser, script: ts.signInTokens(t, refreshEmail, refreshPassword)}
}

func byRefreshToken(s session) request {
	return request{method: "POST", path: "/v1/auth/refresh", header: withHeaders(tokenTransport, "X-Refresh-Token", s.refresh)}
}

func byCookie(s session) request { return s.viaCookie("POST", "/v1/auth/refresh") }

func byAuthorization(s session) request {
	return withTransport(s.viaHeader("POST", "/v1/auth/refresh"))
}

// refresh performs a refresh that must succeed and returns the new session,
// whichever transport the request asked for.
func (ts *testServer) refresh(t *testing.T, req request) session {
	t.Helper()
	resp := ts.do(t, req)
	if _, ok := req.header["X-Auth-Transport"]; ok {
		return tokensOf(t, resp, http.StatusOK)
	}
	return grantOf(t, resp, http.StatusOK)
}

// TestRefresh: each way of presenting a credential to POST
// /v1/auth/refresh, and the ones refused. A success carries a new uid, the
// same ruid and user, and a fresh exp that never passes the session's end.
func TestRefresh(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		advance    time.Duration // clock moves after signing in
		prepare    func(t *testing.T, f refreshFixture)
		req        func(f refreshFixture) request
		wantStatus int
		wantCode   string // for errors
	}{
		{name: "cookie_with_csrf", req: func(f refreshFixture) request { return byCookie(f.browser) }, wantStatus: http.StatusOK},
		{name: "cookie_with_unmasked_csrf", req: func(f refreshFixture) request { return withCSRF(byCookie(f.browser), unmasked(f.browser.csrf)) }, wantStatus: http.StatusOK},
		{name: "cookie_with_expired_access_token", advance: accessTTL + time.Hour, req: func(f refreshFixture) request { return byCookie(f.browser) }, wantStatus: http.StatusOK},
		{name: "authorization", req: func(f refreshFixture) request { return byAuthorization(f.script) }, wantStatus: http.StatusOK},
		{name: "authorization_expired_access_token", advance: accessTTL + time.Hour, req: func(f refreshFixture) request { return byAuthorization(f.script) }, wantStatus: http.StatusOK},
		{name: "refresh_token", req: func(f refreshFixture) request { return byRefreshToken(f.script) }, wantStatus: http.StatusOK},
		{name: "refresh_token_near_session_end", advance: sessionTTL - time.Minute, req: func(f refreshFixture) request { return byRefreshToken(f.script) }, wantStatus: http.StatusOK},
		{name: "refresh_token_wins_over_cookie", req: func(f refreshFixture) request { return withCookie(byRefreshToken(f.script), "garbage") }, wantStatus: http.StatusOK},
		{
			name: "after_session_lifetime_cookie", advance: sessionTTL + time.Hour,
			req: func(f refreshFixture) request { return byCookie(f.browser) }, wantStatus: http.StatusUnauthorized, wantCode: "not_authorized",
		},
		{
			name: "after_session_lifetime_refresh_token", advance: sessionTTL + time.Hour,
			req: func(f refreshFixture) request { return byRefreshToken(f.script) }, wantStatus: http.StatusUnauthorized, wantCode: "not_authorized",
		},
		{
			name: "revoked_session_authorization",
			prepare: func(t *testing.T, f refreshFixture) {
				f.ts.wantStatus(t, http.StatusOK, f.script.viaHeader("DELETE", "/v1/auth/sign_out"))
			},
			req: func(f refreshFixture) request { return byAuthorization(f.script) }, wantStatus: http.StatusUnauthorized, wantCode: "not_authorized",
		},
		{
			name: "revoked_session_refresh_token",
			prepare: func(t *testing.T, f refreshFixture) {
				f.ts.wantStatus(t, http.StatusOK, f.script.viaHeader("DELETE", "/v1/auth/sign_out"))
			},
			req: func(f refreshFixture) request { return byRefreshToken(f.script) }, wantStatus: http.StatusUnauthorized, wantCode: "not_authorized",
		},
		{
			name: "revoked_session_cookie",
			prepare: func(t *testing.T, f refreshFixture) {
				f.ts.wantStatus(t, http.StatusOK, f.browser.viaCookie("DELETE", "/v1/auth/sign_out"))
			},
			req: func(f refreshFixture) request { return byCookie(f.browser) }, wantStatus: http.StatusUnauthorized, wantCode: "not_authorized",
		},
		{
			name: "bad_signature", req: func(f refreshFixture) request { return byAuthorization(session{access: resign(t, f.script.access)}) },
			wantStatus: http.StatusUnauthorized, wantCode: "not_authorized",
		},
		{
			name: "bad_refresh_token_mac", req: func(f refreshFixture) request {
				return byRefreshToken(session{refresh: f.script.refresh[:len(f.script.refresh)-2] + "AA"})
			},
			wantStatus: http.StatusUnauthorized, wantCode: "not_authorized",
		},
		{
			name:       "seed_token_of_the_rails_api",
			req:        func(f refreshFixture) request { return byAuthorization(session{access: seedToken}) },
			wantStatus: http.StatusUnauthorized, wantCode: "not_authorized",
		},
		{
			name:       "no_credentials",
			req:        func(refreshFixture) request { return request{method: "POST", path: "/v1/auth/refresh"} },
			wantStatus: http.StatusUnauthorized, wantCode: "not_authorized",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newRefreshFixture(t)
			if tt.prepare != nil {
				tt.prepare(t, f)
			}
			f.ts.clock.Advance(tt.advance)
			req := tt.req(f)
			if tt.wantCode != "" {
				wantError(t, f.ts.do(t, req), tt.wantStatus, tt.wantCode)
				return
			}
			before := claimsOf(t, f.script.access)
			if req.cookie == f.browser.access {
				before = claimsOf(t, f.browser.access)
			}
			now := f.ts.clock.Now()
			got := claimsOf(t, f.ts.refresh(t, req).access)
			wantExp := min(now.Add(accessTTL).Unix(), epoch.Add(sessionTTL).Unix())
			if got.UID == before.UID || got.RUID != before.RUID || got.UserID != before.UserID || got.Exp != wantExp {
				t.Errorf("%s: got claims %+v, want a new uid, ruid %s, user_id %d, exp %d", req.call(), got, before.RUID, before.UserID, wantExp)
			}
		})
	}
}

// resign signs the claims of jwt with another key: well formed, correctly
// shaped, but not ours.
func resign(t *testing.T, jwt string) string {
	t.Helper()
	c := claimsOf(t, jwt)
	iss, err := token.NewIssuer([]byte("another-key-another-key-another-k"), accessTTL, 5*time.Second)
	if err != nil {
		t.Fatalf("token.NewIssuer: %v", err)
	}
	forged, err := iss.Issue(token.Claims{Exp: c.Exp, UserID: c.UserID, UID: c.UID, RUID: c.RUID})
	if err != nil {
		t.Fatalf("Issuer.Issue: %v", err)
	}
	return forged
}

// TestRefresh_CookieMaxAge: the refreshed cookie lives until the session
// ends, not longer: refreshing never extends a session.
func TestRefresh_CookieMaxAge(t *testing.T) {
	t.Parallel()
	f := newRefreshFixture(t)
	f.ts.clock.Advance(2 * time.Hour)
	resp := f.ts.do(t, byCookie(f.browser))
	grantOf(t, resp, http.StatusOK)
	want := fmt.Sprintf("Max-Age=%d;", int((sessionTTL - 2*time.Hour).Seconds()))
	if c := resp.setCookie(); !containsAll(c, want, "HttpOnly", "Secure", "SameSite=Lax", "Path=/") {
		t.Errorf("%s: got Set-Cookie %q, want %s", resp.call, c, want)
	}
}

// TestRefresh_GraceWindow: presenting the credential just replaced, within
// the grace window, returns the state the first refresh created (so
// concurrent tabs do not log each other out): the same uid and exp, the
// same CSRF secret masked afresh, and the same refresh token.
func TestRefresh_GraceWindow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		present func(f refreshFixture) request
	}{
		{name: "cookie", present: func(f refreshFixture) request { return byCookie(f.browser) }},
		{name: "authorization", present: func(f refreshFixture) request { return byAuthorization(f.script) }},
		{name: "refresh_token", present: func(f refreshFixture) request { return byRefreshToken(f.script) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newRefreshFixture(t)
			first := f.ts.refresh(t, tt.present(f))
			f.ts.clock.Advance(refreshGrace - time.Second)
			again := f.ts.refresh(t, tt.present(f))
			call := tt.present(f).call() + " again within the grace window"
			if got, want := claimsOf(t, again.access), claimsOf(t, first.access); got != want {
				t.Errorf("%s: got claims %+v, want the first refresh's %+v", call, got, want)
			}
			if again.refresh != first.refresh {
				t.Errorf("%s: got refresh token %q, want the first refresh's %q", call, again.refresh, first.refresh)
			}
			if again.csrf == first.csrf || csrfSecret(t, again.csrf) != csrfSecret(t, first.csrf) {
				t.Errorf("%s: got csrf %q, want a fresh masking of the first refresh's %q", call, again.csrf, first.csrf)
			}
			// The copy works like the original, CSRF token included.
			f.ts.wantStatus(t, http.StatusOK, again.viaHeader("GET", "/v1/auth/me"))
			wantError(t, f.ts.do(t, csrfProbe(again)), http.StatusBadRequest, "bad_request")
		})
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// TestRefresh_PreviousCSRFDuringGraceOnly: after a refresh, a page that
// still holds the previous CSRF token keeps working for the grace window,
// and only for it. The steps run in order on one session.
func TestRefresh_PreviousCSRFDuringGraceOnly(t *testing.T) {
	t.Parallel()
	f := newRefreshFixture(t)
	old := f.browser
	next := f.ts.refresh(t, byCookie(old))
	steps := []struct {
		name       string
		advance    time.Duration
		req        request
		wantStatus int
		wantCode   string
	}{
		{name: "new_cookie_new_csrf", req: csrfProbe(next), wantStatus: http.StatusBadRequest, wantCode: "bad_request"},
		{name: "new_cookie_previous_csrf_in_grace", req: withCSRF(csrfProbe(next), old.csrf), wantStatus: http.StatusBadRequest, wantCode: "bad_request"},
		{name: "new_cookie_previous_unmasked_csrf_in_grace", req: withCSRF(csrfProbe(next), unmasked(old.csrf)), wantStatus: http.StatusBadRequest, wantCode: "bad_request"},
		{name: "new_cookie_previous_csrf_after_grace", advance: refreshGrace, req: withCSRF(csrfProbe(next), old.csrf), wantStatus: http.StatusUnauthorized, wantCode: "csrf_invalid"},
		{name: "new_cookie_new_csrf_after_grace", req: csrfProbe(next), wantStatus: http.StatusBadRequest, wantCode: "bad_request"},
	}
	for _, step := range steps {
		f.ts.clock.Advance(step.advance)
		t.Logf("step %s", step.name)
		wantError(t, f.ts.do(t, step.req), step.wantStatus, step.wantCode)
	}
}

// TestRefresh_ReuseAfterGrace: presenting a replaced credential after the
// grace window, or one older than the previous generation at any time, is
// reuse: 401 token_reused, and the whole session is revoked, so the newest
// tokens fail too. The user's other sessions are untouched.
func TestRefresh_ReuseAfterGrace(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		browser   bool // the session under test: the browser's, else the script's
		rotate    func(s session) request
		rotations int
		advance   time.Duration
		present   func(old, newest session) request
	}{
		{
			name: "authorization", rotate: byAuthorization, rotations: 1, advance: refreshGrace + time.Second,
			present: func(old, _ session) request { return byAuthorization(old) },
		},
		{
			name: "refresh_token", rotate: byRefreshToken, rotations: 1, advance: refreshGrace + time.Second,
			present: func(old, _ session) request { return byRefreshToken(old) },
		},
		{
			name: "cookie_with_current_csrf", browser: true, rotate: byCookie, rotations: 1, advance: refreshGrace + time.Second,
			present: func(old, newest session) request { return withCSRF(byCookie(old), newest.csrf) },
		},
		{
			name: "cookie_with_its_own_csrf", browser: true, rotate: byCookie, rotations: 1, advance: refreshGrace + time.Second,
			present: func(old, _ session) request { return byCookie(old) },
		},
		{
			name: "authorization_two_generations_old_in_grace", rotate: byAuthorization, rotations: 2,
			present: func(old, _ session) request { return byAuthorization(old) },
		},
		{
			name: "refresh_token_two_generations_old_in_grace", rotate: byRefreshToken, rotations: 2,
			present: func(old, _ session) request { return byRefreshToken(old) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newRefreshFixture(t)
			old, bystander := f.script, f.browser
			if tt.browser {
				old, bystander = f.browser, f.script
			}
			newest := old
			for range tt.rotations {
				newest = f.ts.refresh(t, tt.rotate(newest))
			}
			f.ts.clock.Advance(tt.advance)
			wantError(t, f.ts.do(t, tt.present(old, newest)), http.StatusUnauthorized, "token_reused")
			f.ts.wantStatus(t, http.StatusUnauthorized,
				newest.viaHeader("GET", "/v1/auth/me"),
				newest.viaCookie("GET", "/v1/auth/verify"),
				tt.rotate(newest))
			f.ts.wantStatus(t, http.StatusOK, bystander.viaHeader("GET", "/v1/auth/me"))
		})
	}
}

// TestRefresh_Concurrent: tabs refreshing with the same credential at the
// same moment all succeed and all end up with the winner's tokens.
func TestRefresh_Concurrent(t *testing.T) {
	t.Parallel()
	const tabs = 8
	tests := []struct {
		name    string
		browser bool
		rotate  func(s session) request
	}{
		{name: "cookie", browser: true, rotate: byCookie},
		{name: "authorization", rotate: byAuthorization},
		{name: "refresh_token", rotate: byRefreshToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newRefreshFixture(t)
			s := f.script
			if tt.browser {
				s = f.browser
			}
			req := tt.rotate(s)
			var wg sync.WaitGroup
			resps := make([]response, tabs)
			start := make(chan struct{})
			for i := range resps {
				wg.Go(func() {
					<-start
					resps[i] = f.ts.do(t, req)
				})
			}
			close(start)
			wg.Wait()
			var first session
			for i, resp := range resps {
				var got session
				if tt.browser {
					got = grantOf(t, resp, http.StatusOK)
				} else {
					got = tokensOf(t, resp, http.StatusOK)
				}
				if i == 0 {
					first = got
					continue
				}
				if claimsOf(t, got.access) != claimsOf(t, first.access) || got.refresh != first.refresh {
					t.Errorf("%s, tab %d: got claims %+v refresh %q, want tab 0's %+v %q",
						resp.call, i, claimsOf(t, got.access), got.refresh, claimsOf(t, first.access), first.refresh)
				}
			}
			if c := claimsOf(t, first.access); c.UID == claimsOf(t, s.access).UID {
				t.Errorf("%s: got uid %s, want a new one", req.call(), c.UID)
			}
		})
	}
}
