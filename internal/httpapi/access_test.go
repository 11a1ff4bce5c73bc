package httpapi_test

import (
	"net/http"
	"testing"
	"time"
)

// TestAccessToken_ReplacedByRefresh: the access token a refresh replaced
// keeps working during the grace window, and fails after it.
func TestAccessToken_ReplacedByRefresh(t *testing.T) {
	t.Parallel()
	f := newRefreshFixture(t)
	old := f.browser
	next := f.ts.refresh(t, byCookie(old))
	me := func(s session) request { return s.viaHeader("GET", "/v1/auth/me") }
	f.ts.clock.Advance(refreshGrace - time.Second)
	f.ts.wantStatus(t, http.StatusOK, me(old), me(next))
	f.ts.clock.Advance(time.Second)
	wantError(t, f.ts.do(t, me(old)), http.StatusUnauthorized, "not_authorized")
	f.ts.wantStatus(t, http.StatusOK, me(next))
}

// TestAccessToken_Expiry: an access token fails once its exp has passed
// (a few seconds of leeway at most), and can still be refreshed.
func TestAccessToken_Expiry(t *testing.T) {
	t.Parallel()
	f := newRefreshFixture(t)
	s := f.script
	f.ts.clock.Advance(accessTTL - time.Second)
	f.ts.wantStatus(t, http.StatusOK, s.viaHeader("GET", "/v1/auth/me"))
	f.ts.clock.Advance(time.Minute)
	wantError(t, f.ts.do(t, s.viaHeader("GET", "/v1/auth/me")), http.StatusUnauthorized, "token_expired")
	wantError(t, f.ts.do(t, s.viaHeader("GET", "/v1/auth/verify")), http.StatusUnauthorized, "token_expired")
	next := f.ts.refresh(t, byAuthorization(s))
	f.ts.wantStatus(t, http.StatusOK, next.viaHeader("GET", "/v1/auth/me"))
}
