package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	oldPassword = "old-secret-one"
	newPassword = "new-secret-two"
)

func passwordChange(current, pw, confirmation string) string {
	return jsonObject("current_password", current, "password", pw, "password_confirmation", confirmation)
}

func changePassword(s session, body string) request {
	r := s.viaCookie("PUT", "/v1/auth/password")
	r.body = body
	return r
}

// TestChangePassword_Failures: a refused change is a 422 with Rails-style
// messages, and changes nothing.
func TestChangePassword_Failures(t *testing.T) {
	t.Parallel()
	ts := newServer(t, serverOptions{})
	tests := []struct {
		name        string
		body        func(email string) string
		wantError   string
		wantDetails map[string][]string
	}{
		{
			name:      "wrong_current_password",
			body:      func(string) string { return passwordChange("not-the-password", newPassword, newPassword) },
			wantError: "Current password is invalid", wantDetails: map[string][]string{"current_password": {"is invalid"}},
		},
		{
			name:      "current_password_missing",
			body:      func(string) string { return jsonObject("password", newPassword, "password_confirmation", newPassword) },
			wantError: "Current password is invalid", wantDetails: map[string][]string{"current_password": {"is invalid"}},
		},
		{
			name:      "new_password_too_short",
			body:      func(string) string { return passwordChange(oldPassword, "Sh0rt!", "Sh0rt!") },
			wantError: "Password is too short (minimum is 8 characters)", wantDetails: map[string][]string{"password": {"is too short (minimum is 8 characters)"}},
		},
		{
			name:      "new_password_common",
			body:      func(string) string { return passwordChange(oldPassword, "password123", "password123") },
			wantError: "Password is too common", wantDetails: map[string][]string{"password": {"is too common"}},
		},
		{
			name:      "new_password_is_the_email",
			body:      func(email string) string { return passwordChange(oldPassword, email, email) },
			wantError: "Password can't be your email address", wantDetails: map[string][]string{"password": {"can't be your email address"}},
		},
		{
			name:      "confirmation_mismatch",
			body:      func(string) string { return passwordChange(oldPassword, newPassword, newPassword+"!") },
			wantError: "Password confirmation doesn't match Password", wantDetails: map[string][]string{"password_confirmation": {"doesn't match Password"}},
		},
		{
			name:      "confirmation_missing",
			body:      func(string) string { return jsonObject("current_password", oldPassword, "password", newPassword) },
			wantError: "Password confirmation can't be blank", wantDetails: map[string][]string{"password_confirmation": {"can't be blank"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			email := tt.name + "@example.com"
			s := ts.register(t, email, oldPassword)
			other := ts.signInTokens(t, email, oldPassword)
			resp := ts.do(t, changePassword(s, tt.body(email)))
			e := wantError(t, resp, http.StatusUnprocessableEntity, "validation_failed")
			if e.Error != tt.wantError {
				t.Errorf("%s: got error %q, want %q", resp.call, e.Error, tt.wantError)
			}
			if diff := cmp.Diff(tt.wantDetails, e.Details); diff != "" {
				t.Errorf("%s: details mismatch (-want +got):\n%s", resp.call, diff)
			}
			if sc := resp.header.Values("Set-Cookie"); len(sc) != 0 {
				t.Errorf("%s: got Set-Cookie %q, want none", resp.call, sc)
			}
			ts.wantStatus(t, http.StatusOK, s.viaHeader("GET", "/v1/auth/me"), other.viaHeader("GET", "/v1/auth/me"))
			ts.signIn(t, email, oldPassword)
		})
	}
}

// TestChangePassword: a change re-keys the caller's session, which keeps
// working, and revokes every other session of the user; only the new
// password signs in afterwards.
func TestChangePassword(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(s session) request
		tokens bool // the answer is token transport
	}{
		{name: "cookie", change: func(s session) request {
			return changePassword(s, passwordChange(oldPassword, newPassword, newPassword))
		}},
		{
			name: "header_token_transport", tokens: true,
			change: func(s session) request {
				r := withTransport(s.viaHeader("PUT", "/v1/auth/password"))
				r.body = passwordChange(oldPassword, newPassword, newPassword)
				return r
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := newServer(t, serverOptions{})
			const email = "changer@example.com"
			s := ts.register(t, email, oldPassword)
			otherBrowser := ts.signIn(t, email, oldPassword)
			otherScript := ts.signInTokens(t, email, oldPassword)

			resp := ts.do(t, tt.change(s))
			var next session
			if tt.tokens {
				next = tokensOf(t, resp, http.StatusOK)
			} else {
				next = grantOf(t, resp, http.StatusOK)
			}
			if got, was := claimsOf(t, next.access), claimsOf(t, s.access); got.RUID != was.RUID || got.UID == was.UID {
				t.Errorf("%s: got claims %+v, want session %s with a new uid (was %s)", resp.call, got, was.RUID, was.UID)
			}
			ts.wantStatus(t, http.StatusUnauthorized,
				otherBrowser.viaCookie("GET", "/v1/auth/me"),
				otherScript.viaHeader("GET", "/v1/auth/me"),
				byRefreshToken(otherScript))
			ts.wantStatus(t, http.StatusOK, next.viaHeader("GET", "/v1/auth/me"))
			wantError(t, ts.do(t, csrfProbe(next)), http.StatusBadRequest, "bad_request")
			wantError(t, ts.do(t, request{method: "POST", path: "/v1/auth/sign_in", body: credentials(email, oldPassword)}),
				http.StatusUnauthorized, "invalid_credentials")
			ts.signIn(t, email, newPassword)

			ts.clock.Advance(refreshGrace)
			ts.wantStatus(t, http.StatusUnauthorized, s.viaHeader("GET", "/v1/auth/me"))
			ts.wantStatus(t, http.StatusOK, next.viaHeader("GET", "/v1/auth/me"))
			ts.clock.Advance(time.Hour)
			ts.refresh(t, byCookie(next))
		})
	}
}
