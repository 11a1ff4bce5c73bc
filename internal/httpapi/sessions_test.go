package httpapi_test

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const clearedCookie = "jwt_access=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax"

// TestSignOut_RevokesAtOnce: after sign-out every token of the session
// fails on the very next request, whatever it is; the user's other
// sessions keep working.
func TestSignOut_RevokesAtOnce(t *testing.T) {
	t.Parallel()
	ts := newServer(t, serverOptions{})
	tests := []struct {
		name    string
		signOut func(s session) request
		next    func(s session) request
	}{
		{name: "header_then_me", signOut: signOutViaHeader, next: func(s session) request { return s.viaHeader("GET", "/v1/auth/me") }},
		{name: "header_then_verify", signOut: signOutViaHeader, next: func(s session) request { return s.viaHeader("GET", "/v1/auth/verify") }},
		{name: "header_then_sign_out_again", signOut: signOutViaHeader, next: signOutViaHeader},
		{name: "header_then_sessions", signOut: signOutViaHeader, next: func(s session) request { return s.viaHeader("GET", "/v1/auth/sessions") }},
		{name: "header_then_refresh_by_access_token", signOut: signOutViaHeader, next: byAuthorization},
		{name: "header_then_refresh_by_refresh_token", signOut: signOutViaHeader, next: byRefreshToken},
		{name: "cookie_then_me_by_cookie", signOut: signOutViaCookie, next: func(s session) request { return s.viaCookie("GET", "/v1/auth/me") }},
		{name: "cookie_then_sign_out_again", signOut: signOutViaCookie, next: signOutViaCookie},
		{name: "cookie_then_refresh_by_cookie", signOut: signOutViaCookie, next: byCookie},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			email := strings.ReplaceAll(tt.name, "_", ".") + "@example.com"
			ts.register(t, email, "sign-out-secret")
			s := ts.signInTokens(t, email, "sign-out-secret")
			wantBody(t, ts.do(t, tt.signOut(s)), http.StatusOK, `"ok"`)
			wantError(t, ts.do(t, tt.next(s)), http.StatusUnauthorized, "not_authorized")
			other := ts.signIn(t, email, "sign-out-secret")
			ts.wantStatus(t, http.StatusOK, other.viaHeader("GET", "/v1/auth/me"))
		})
	}
}

func signOutViaHeader(s session) request { return s.viaHeader("DELETE", "/v1/auth/sign_out") }
func signOutViaCookie(s session) request { return s.viaCookie("DELETE", "/v1/auth/sign_out") }

func TestMe(t *testing.T) {
	t.Parallel()
	ts := newServer(t, serverOptions{})
	ts.clock.Advance(90 * time.Second)
	s := ts.register(t, " Mixed.Case@Example.COM ", "me-secret-1")
	resp := ts.do(t, s.viaHeader("GET", "/v1/auth/me"))
	if keys := sortedKeys(decode[map[string]any](t, resp)); !slices.Equal(keys, []string{"aal", "authenticated_at", "created_at", "email", "id", "methods"}) {
		t.Errorf("%s: got body keys %q, want [aal authenticated_at created_at email id methods]", resp.call, keys)
	}
	want := meBody{ID: claimsOf(t, s.access).UserID, Email: "mixed.case@example.com", CreatedAt: "2026-03-02T09:31:30Z",
		Methods: []string{"password"}, AAL: 1, AuthenticatedAt: "2026-03-02T09:31:30Z"}
	if diff := cmp.Diff(want, decode[meBody](t, resp)); diff != "" {
		t.Errorf("%s: body mismatch (-want +got):\n%s", resp.call, diff)
	}
}

// TestVerify: the forward-auth endpoint of reverse proxies.
func TestVerify(t *testing.T) {
	t.Parallel()
	ts := newServer(t, serverOptions{})
	s := ts.register(t, "proxied@example.com", "verify-secret")
	revoked := ts.signInTokens(t, "proxied@example.com", "verify-secret")
	ts.wantStatus(t, http.StatusOK, signOutViaHeader(revoked))
	c := claimsOf(t, s.access)
	tests := []struct {
		name       string
		req        request
		wantStatus int
	}{
		{name: "header", req: s.viaHeader("GET", "/v1/auth/verify"), wantStatus: http.StatusOK},
		{name: "cookie_without_csrf", req: request{method: "GET", path: "/v1/auth/verify", cookie: s.access}, wantStatus: http.StatusOK},
		{name: "head_header", req: s.viaHeader("HEAD", "/v1/auth/verify"), wantStatus: http.StatusOK},
		{name: "no_token", req: request{method: "GET", path: "/v1/auth/verify"}, wantStatus: http.StatusUnauthorized},
		{name: "forged_token", req: session{access: resign(t, s.access)}.viaHeader("GET", "/v1/auth/verify"), wantStatus: http.StatusUnauthorized},
		{name: "revoked_session", req: revoked.viaHeader("GET", "/v1/auth/verify"), wantStatus: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := ts.do(t, tt.req)
			want := map[string]string{"X-User-Id": "", "X-Session-Id": ""}
			if tt.wantStatus == http.StatusOK {
				want = map[string]string{"X-User-Id": strconv.FormatInt(c.UserID, 10), "X-Session-Id": c.RUID}
			}
			if resp.status != tt.wantStatus {
				t.Errorf("%s: got status %d, want %d; body %s", resp.call, resp.status, tt.wantStatus, resp.body)
			}
			for name, v := range want {
				if got := resp.header.Get(name); got != v {
					t.Errorf("%s: got %s %q, want %q", resp.call, name, got, v)
				}
			}
		})
	}
}

type sessionBody struct {
	ID              string   `json:"id"`
	CreatedAt       string   `json:"created_at"`
	LastUsedAt      string   `json:"last_used_at"`
	ExpiresAt       string   `json:"expires_at"`
	IP              string   `json:"ip"`
	UserAgent       string   `json:"user_agent"`
	Current         bool     `json:"current"`
	Pending         bool     `json:"pending"`
	Methods         []string `json:"methods"`
	AAL             int      `json:"aal"`
	AuthenticatedAt string   `json:"authenticated_at"`
}

func TestSessions_List(t *testing.T) {
	t.Parallel()
	ts := newServer(t, serverOptions{})
	const email, pw = "lister@example.com", "list-secret-1"
	withUA := func(r request, ua string) request { r.header = withHeaders(r.header, "User-Agent", ua); return r }
	laptop := grantOf(t, ts.do(t, withUA(request{method: "POST", path: "/v1/auth", body: registration(email, pw, pw)}, "laptop/1")), http.StatusCreated)
	ts.clock.Advance(time.Minute)
	cli := grantOf(t, ts.do(t, withUA(request{method: "POST", path: "/v1/auth/sign_in", body: credentials(email, pw)}, "cli/2")), http.StatusOK)
	ts.clock.Advance(time.Minute)
	phone := grantOf(t, ts.do(t, withUA(request{method: "POST", path: "/v1/auth/sign_in", body: credentials(email, pw)}, "phone/3")), http.StatusOK)
	gone := ts.signIn(t, email, pw)
	ts.wantStatus(t, http.StatusOK, signOutViaHeader(gone))
	ts.register(t, "someone.else@example.com", pw)
	ts.clock.Advance(time.Minute)
	laptop = grantOf(t, ts.do(t, byCookie(laptop)), http.StatusOK) // last used now

	resp := ts.do(t, cli.viaHeader("GET", "/v1/auth/sessions"))
	at := func(d time.Duration) string { return epoch.Add(d).Format(time.RFC3339) }
	password := []string{"password"}
	want := []sessionBody{
		{ID: claimsOf(t, phone.access).RUID, CreatedAt: at(2 * time.Minute), LastUsedAt: at(2 * time.Minute), ExpiresAt: at(2*time.Minute + sessionTTL), IP: "127.0.0.1", UserAgent: "phone/3", Methods: password, AAL: 1, AuthenticatedAt: at(2 * time.Minute)},
		{ID: claimsOf(t, cli.access).RUID, CreatedAt: at(time.Minute), LastUsedAt: at(time.Minute), ExpiresAt: at(time.Minute + sessionTTL), IP: "127.0.0.1", UserAgent: "cli/2", Current: true, Methods: password, AAL: 1, AuthenticatedAt: at(time.Minute)},
		{ID: claimsOf(t, laptop.access).RUID, CreatedAt: at(0), LastUsedAt: at(3 * time.Minute), ExpiresAt: at(sessionTTL), IP: "127.0.0.1", UserAgent: "laptop/1", Methods: password, AAL: 1, AuthenticatedAt: at(0)},
	}
	if diff := cmp.Diff(want, decode[[]sessionBody](t, resp)); diff != "" {
		t.Errorf("%s: sessions mismatch (-want +got):\n%s", resp.call, diff)
	}
}

// TestSessions_Revoke: alice holds sessions a1, a2, a3 and bob holds b1;
// each row runs as a1 (by cookie unless said otherwise) on fresh users.
func TestSessions_Revoke(t *testing.T) {
	t.Parallel()
	ts := newServer(t, serverOptions{})
	tests := []struct {
		name        string
		req         func(u map[string]session) request
		wantStatus  int
		wantCode    string // for errors
		wantRevoked []string
		wantCleared bool // the response clears the cookie
	}{
		{name: "own_other_session", req: deleteSession("a2"), wantStatus: http.StatusOK, wantRevoked: []string{"a2"}},
		{name: "own_current_session", req: deleteSession("a1"), wantStatus: http.StatusOK, wantRevoked: []string{"a1"}, wantCleared: true},
		{
			name: "own_other_session_via_header",
			req: func(u map[string]session) request {
				return u["a1"].viaHeader("DELETE", "/v1/auth/sessions/"+ruid(u["a3"]))
			},
			wantStatus: http.StatusOK, wantRevoked: []string{"a3"},
		},
		{name: "another_users_session", req: deleteSession("b1"), wantStatus: http.StatusNotFound, wantCode: "not_found"},
		{name: "unknown_id", req: deletePath("/v1/auth/sessions/9b2f1c9e-5d0a-4a53-9a3e-2f1d7c6b8e40"), wantStatus: http.StatusNotFound, wantCode: "not_found"},
		{name: "not_a_uuid", req: deletePath("/v1/auth/sessions/x'--"), wantStatus: http.StatusNotFound, wantCode: "not_found"},
		{name: "scope_others", req: deletePath("/v1/auth/sessions?scope=others"), wantStatus: http.StatusOK, wantRevoked: []string{"a2", "a3"}},
		{name: "scope_all", req: deletePath("/v1/auth/sessions?scope=all"), wantStatus: http.StatusOK, wantRevoked: []string{"a1", "a2", "a3"}, wantCleared: true},
		{name: "scope_missing", req: deletePath("/v1/auth/sessions"), wantStatus: http.StatusBadRequest, wantCode: "bad_request"},
		{name: "scope_empty", req: deletePath("/v1/auth/sessions?scope="), wantStatus: http.StatusBadRequest, wantCode: "bad_request"},
		{name: "scope_unknown", req: deletePath("/v1/auth/sessions?scope=everything"), wantStatus: http.StatusBadRequest, wantCode: "bad_request"},
		{name: "scope_upper_case", req: deletePath("/v1/auth/sessions?scope=ALL"), wantStatus: http.StatusBadRequest, wantCode: "bad_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			alice, bob := tt.name+".alice@example.com", tt.name+".bob@example.com"
			u := map[string]session{
				"a1": ts.register(t, alice, "revoke-secret"),
				"b1": ts.register(t, bob, "revoke-secret"),
			}
			u["a2"] = ts.signIn(t, alice, "revoke-secret")
			u["a3"] = ts.signInTokens(t, alice, "revoke-secret")
			resp := ts.do(t, tt.req(u))
			if tt.wantCode != "" {
				wantError(t, resp, tt.wantStatus, tt.wantCode)
			} else {
				wantBody(t, resp, tt.wantStatus, `"ok"`)
			}
			wantCookie := ""
			if tt.wantCleared {
				wantCookie = clearedCookie
			}
			if got := resp.setCookie(); got != wantCookie {
				t.Errorf("%s: got Set-Cookie %q, want %q", resp.call, got, wantCookie)
			}
			for _, name := range sortedKeys(u) {
				want := http.StatusOK
				if slices.Contains(tt.wantRevoked, name) {
					want = http.StatusUnauthorized
				}
				if got := ts.status(t, u[name].viaHeader("GET", "/v1/auth/me")); got != want {
					t.Errorf("GET /v1/auth/me as %s after %s: got status %d, want %d", name, resp.call, got, want)
				}
			}
		})
	}
}

// ruid is the session id of s; "" if its access token is unreadable.
func ruid(s session) string {
	c, _ := parseClaims(s.access)
	return c.RUID
}

// deleteSession deletes the session named victim as a1, by cookie.
func deleteSession(victim string) func(u map[string]session) request {
	return func(u map[string]session) request {
		return u["a1"].viaCookie("DELETE", "/v1/auth/sessions/"+ruid(u[victim]))
	}
}

// deletePath sends DELETE path as a1, by cookie.
func deletePath(path string) func(u map[string]session) request {
	return func(u map[string]session) request { return u["a1"].viaCookie("DELETE", path) }
}
