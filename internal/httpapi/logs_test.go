package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/password"
)

// TestLogs_NoSecrets runs a whole life cycle with the logger at debug
// level (every request, the audit trail, internal errors) and checks that
// no credential reached the log: no password, token or CSRF value, and no
// header that carries them.
func TestLogs_NoSecrets(t *testing.T) {
	t.Parallel()
	limiter := password.NewLimiter(1, 10*time.Millisecond)
	ts := newServer(t, serverOptions{limiter: limiter})
	const (
		email      = "logged@example.com"
		pw         = "log-secret-Xq7#a"
		wrongPw    = "wrong-secret-Zr4!b"
		changedPw  = "changed-secret-Mv2%c"
		unknownPw  = "unknown-user-secret-Tk9&d"
		busyPw     = "busy-path-secret-Wp3*e"
		rejectedPw = "password123"
		mismatchPw = "confirm-secret-Hn8^f"
	)
	var seen []session
	keep := func(s session) session { seen = append(seen, s); return s }

	browser := keep(ts.register(t, email, pw))
	script := keep(ts.signInTokens(t, email, pw))
	script = keep(ts.refresh(t, byRefreshToken(script)))
	browser = keep(ts.refresh(t, byCookie(browser)))
	ts.wantStatus(t, http.StatusOK, browser.viaCookie("GET", "/v1/auth/me"), script.viaHeader("GET", "/v1/auth/sessions"))
	ts.wantStatus(t, http.StatusUnauthorized,
		request{method: "POST", path: "/v1/auth/sign_in", body: credentials(email, wrongPw)},
		request{method: "POST", path: "/v1/auth/sign_in", body: credentials("nobody@example.com", unknownPw)},
		withCSRF(byCookie(browser), "not-the-csrf-token"))
	ts.wantStatus(t, http.StatusUnprocessableEntity,
		request{method: "POST", path: "/v1/auth", body: registration("other@example.com", rejectedPw, rejectedPw)},
		request{method: "POST", path: "/v1/auth", body: registration("other@example.com", mismatchPw, mismatchPw+"x")})
	browser = keep(grantOf(t, ts.do(t, changePassword(browser, passwordChange(pw, changedPw, changedPw))), http.StatusOK))
	ts.wantStatus(t, http.StatusOK, signOutViaCookie(browser))
	ts.wantStatus(t, http.StatusUnauthorized, signOutViaHeader(script))

	// A 503, which logs its cause at error level.
	release, _, err := limiter.Acquire(t.Context(), "")
	if err != nil {
		t.Fatalf("Limiter.Acquire: %v", err)
	}
	wantUnavailable(t, ts.do(t, request{method: "POST", path: "/v1/auth/sign_in", body: credentials(email, busyPw), unavailableOK: true}))
	release()

	logs := ts.logs.String()
	for _, want := range []string{"level=DEBUG msg=request", "level=INFO msg=audit", "level=ERROR"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log after a full scenario: got no %q, want one (is the logger wired?)\n%s", want, logs)
		}
	}
	secrets := map[string]string{
		"password": pw, "wrong password": wrongPw, "changed password": changedPw, "unknown user's password": unknownPw,
		"password during 503": busyPw, "rejected password": rejectedPw, "mismatched password": mismatchPw,
		"header name Authorization": "Authorization", "header name Cookie": "Cookie", "cookie name": "jwt_access",
		"header name X-CSRF-Token": "X-CSRF-Token", "header name X-Refresh-Token": "X-Refresh-Token",
	}
	for i, s := range seen {
		name := func(what string) string { return what + " of grant " + string(rune('0'+i)) }
		secrets[name("access token")] = s.access
		if sig := s.access[strings.LastIndexByte(s.access, '.')+1:]; sig != "" {
			secrets[name("access token signature")] = sig
		}
		secrets[name("masked csrf")] = s.csrf
		secrets[name("unmasked csrf")] = unmasked(s.csrf)
		if s.refresh != "" {
			secrets[name("refresh token")] = s.refresh
		}
	}
	for what, secret := range secrets {
		if secret != "" && strings.Contains(strings.ToLower(logs), strings.ToLower(secret)) {
			t.Errorf("log after a full scenario: got the %s (%q) in it, want no secrets", what, secret)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", logs)
	}
}
