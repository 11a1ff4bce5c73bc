package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestCookieOptions: the cookie's name, Secure flag and SameSite follow the
// configuration, and the API reads back only the name it sets.
func TestCookieOptions(t *testing.T) {
	t.Parallel()
	const attrs = "Path=/; Max-Age=%d; HttpOnly; Secure; SameSite=Lax"
	tests := []struct {
		name      string
		opt       serverOptions
		cookie    string // the name set and read
		ignored   string // a name that is not read
		wantAttrs string // with Max-Age as %d
	}{
		{name: "default", cookie: "jwt_access", ignored: "__Host-jwt_access", wantAttrs: attrs},
		{name: "insecure_for_plain_http", opt: serverOptions{insecureCookie: true}, cookie: "jwt_access", ignored: "__Host-jwt_access", wantAttrs: strings.Replace(attrs, " Secure;", "", 1)},
		{name: "host_prefix", opt: serverOptions{cookieHostPrefix: true}, cookie: "__Host-jwt_access", ignored: "jwt_access", wantAttrs: attrs},
		{name: "samesite_strict", opt: serverOptions{cookieSameSite: http.SameSiteStrictMode}, cookie: "jwt_access", ignored: "__Host-jwt_access", wantAttrs: strings.Replace(attrs, "Lax", "Strict", 1)},
		// An SPA on another site than the API: the browser sends the cookie
		// on its cross-site fetches only with SameSite=None.
		{name: "samesite_none_cross_site_spa", opt: serverOptions{cookieSameSite: http.SameSiteNoneMode}, cookie: "jwt_access", ignored: "__Host-jwt_access", wantAttrs: strings.Replace(attrs, "Lax", "None", 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := newServer(t, tt.opt)
			resp := ts.do(t, request{method: "POST", path: "/v1/auth", body: registration("cookie@example.com", goodPassword, goodPassword)})
			lines := resp.header.Values("Set-Cookie")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], tt.cookie+"=") {
				t.Fatalf("%s: got Set-Cookie %q, want one %s cookie", resp.call, lines, tt.cookie)
			}
			access, _, _ := strings.Cut(strings.TrimPrefix(lines[0], tt.cookie+"="), ";")
			if want := tt.cookie + "=" + access + "; " + fmt.Sprintf(tt.wantAttrs, int(sessionTTL.Seconds())); lines[0] != want {
				t.Errorf("%s: got Set-Cookie %q, want %q", resp.call, lines[0], want)
			}
			csrf := decode[map[string]string](t, resp)["csrf"]
			withCookieNamed := func(name, method, path string) request {
				return request{method: method, path: path, header: map[string]string{"Cookie": name + "=" + access, "X-CSRF-Token": csrf}}
			}
			ts.wantStatus(t, http.StatusUnauthorized, withCookieNamed(tt.ignored, "GET", "/v1/auth/me"))
			ts.wantStatus(t, http.StatusOK, withCookieNamed(tt.cookie, "GET", "/v1/auth/me"))
			out := ts.do(t, withCookieNamed(tt.cookie, "DELETE", "/v1/auth/sign_out"))
			if want := tt.cookie + "=; " + fmt.Sprintf(tt.wantAttrs, 0); out.status != http.StatusOK || out.header.Get("Set-Cookie") != want {
				t.Errorf("%s: got %d with Set-Cookie %q, want 200 with %q", out.call, out.status, out.header.Get("Set-Cookie"), want)
			}
		})
	}
}
