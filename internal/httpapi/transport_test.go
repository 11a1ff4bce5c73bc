package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestTransport: the cookie + X-CSRF-Token transport of browsers and the
// Authorization header of scripts, and how a request's credential is
// chosen when it carries both. "self" is a session of the caller, "other"
// one of another user.
func TestTransport(t *testing.T) {
	t.Parallel()
	ts := newServer(t, serverOptions{})
	other := ts.register(t, "other@example.com", "other-secret-1")
	tests := []struct {
		name       string
		req        func(self session) request
		wantStatus int
		wantCode   string // for errors
		wantEmail  string // for GET /v1/auth/me: whose session answered
	}{
		{
			name:       "get_me_cookie_without_csrf",
			req:        func(s session) request { return request{method: "GET", path: "/v1/auth/me", cookie: s.access} },
			wantStatus: http.StatusOK, wantEmail: "self",
		},
		{
			name:       "get_me_cookie_with_wrong_csrf",
			req:        func(s session) request { return withCSRF(s.viaCookie("GET", "/v1/auth/me"), other.csrf) },
			wantStatus: http.StatusOK, wantEmail: "self",
		},
		{
			name:       "sign_out_cookie_masked_csrf",
			req:        func(s session) request { return s.viaCookie("DELETE", "/v1/auth/sign_out") },
			wantStatus: http.StatusOK,
		},
		{
			name:       "sign_out_cookie_unmasked_csrf",
			req:        func(s session) request { return withCSRF(s.viaCookie("DELETE", "/v1/auth/sign_out"), unmasked(s.csrf)) },
			wantStatus: http.StatusOK,
		},
		{
			name: "sign_out_cookie_lower_case_header_name",
			req: func(s session) request {
				return request{method: "DELETE", path: "/v1/auth/sign_out", cookie: s.access, header: map[string]string{"x-csrf-token": s.csrf}}
			},
			wantStatus: http.StatusOK,
		},
		{
			name:       "sign_out_cookie_without_csrf",
			req:        func(s session) request { return request{method: "DELETE", path: "/v1/auth/sign_out", cookie: s.access} },
			wantStatus: http.StatusUnauthorized, wantCode: "csrf_invalid",
		},
		{
			name:       "sign_out_cookie_other_sessions_csrf",
			req:        func(s session) request { return withCSRF(s.viaCookie("DELETE", "/v1/auth/sign_out"), other.csrf) },
			wantStatus: http.StatusUnauthorized, wantCode: "csrf_invalid",
		},
		{
			name: "sign_out_cookie_other_sessions_unmasked_csrf",
			req: func(s session) request {
				return withCSRF(s.viaCookie("DELETE", "/v1/auth/sign_out"), unmasked(other.csrf))
			},
			wantStatus: http.StatusUnauthorized, wantCode: "csrf_invalid",
		},
		{
			name:       "sign_out_cookie_truncated_csrf",
			req:        func(s session) request { return withCSRF(s.viaCookie("DELETE", "/v1/auth/sign_out"), s.csrf[:87]) },
			wantStatus: http.StatusUnauthorized, wantCode: "csrf_invalid",
		},
		{
			name:       "revoke_sessions_cookie_without_csrf",
			req:        func(s session) request { return withCSRF(s.viaCookie("DELETE", "/v1/auth/sessions?scope=others"), "") },
			wantStatus: http.StatusUnauthorized, wantCode: "csrf_invalid",
		},
		{
			name:       "refresh_cookie_without_csrf",
			req:        func(s session) request { return withCSRF(s.viaCookie("POST", "/v1/auth/refresh"), "") },
			wantStatus: http.StatusUnauthorized, wantCode: "csrf_invalid",
		},
		{
			name:       "refresh_cookie_wrong_csrf",
			req:        func(s session) request { return withCSRF(s.viaCookie("POST", "/v1/auth/refresh"), other.csrf) },
			wantStatus: http.StatusUnauthorized, wantCode: "csrf_invalid",
		},
		{
			name: "change_password_cookie_without_csrf",
			req: func(s session) request {
				r := withCSRF(s.viaCookie("PUT", "/v1/auth/password"), "")
				r.body = jsonObject("current_password", "self-secret-1", "password", "new-secret-2", "password_confirmation", "new-secret-2")
				return r
			},
			wantStatus: http.StatusUnauthorized, wantCode: "csrf_invalid",
		},
		{
			name:       "sign_out_header_needs_no_csrf",
			req:        func(s session) request { return s.viaHeader("DELETE", "/v1/auth/sign_out") },
			wantStatus: http.StatusOK,
		},
		{
			name: "change_password_header_needs_no_csrf",
			req: func(s session) request {
				r := s.viaHeader("PUT", "/v1/auth/password")
				r.body = jsonObject("current_password", "self-secret-1", "password", "new-secret-2", "password_confirmation", "new-secret-2")
				return r
			},
			wantStatus: http.StatusOK,
		},
		{
			name:       "header_wins_over_cookie",
			req:        func(s session) request { return withCookie(other.viaHeader("GET", "/v1/auth/me"), s.access) },
			wantStatus: http.StatusOK, wantEmail: "other@example.com",
		},
		{
			name:       "header_wins_over_cookie_without_csrf",
			req:        func(s session) request { return withCookie(s.viaHeader("DELETE", "/v1/auth/sign_out"), other.access) },
			wantStatus: http.StatusOK,
		},
		{
			name: "invalid_jwt_header_wins_over_cookie",
			req: func(s session) request {
				return withAuthorization(s.viaCookie("GET", "/v1/auth/me"), "Bearer aaaa.bbbb.cccc")
			},
			wantStatus: http.StatusUnauthorized, wantCode: "not_authorized",
		},
		{
			name: "non_jwt_header_ignored_cookie_used",
			req: func(s session) request {
				return withAuthorization(s.viaCookie("GET", "/v1/auth/me"), "Basic dXNlcjpwYXNz")
			},
			wantStatus: http.StatusOK, wantEmail: "self",
		},
		{
			name: "non_jwt_header_ignored_cookie_needs_csrf",
			req: func(s session) request {
				return withAuthorization(request{method: "DELETE", path: "/v1/auth/sign_out", cookie: s.access}, "Basic dXNlcjpwYXNz")
			},
			wantStatus: http.StatusUnauthorized, wantCode: "csrf_invalid",
		},
		{
			name: "authorization_last_piece_counts",
			req: func(s session) request {
				return withAuthorization(request{method: "GET", path: "/v1/auth/me"}, "Token  junk\t"+s.access)
			},
			wantStatus: http.StatusOK, wantEmail: "self",
		},
		{
			name: "oversized_bearer_token",
			req: func(s session) request {
				return withAuthorization(s.viaCookie("GET", "/v1/auth/me"), "Bearer "+s.access+strings.Repeat("A", 5000))
			},
			wantStatus: http.StatusUnauthorized, wantCode: "not_authorized",
		},
		{
			name:       "no_credentials",
			req:        func(session) request { return request{method: "GET", path: "/v1/auth/me"} },
			wantStatus: http.StatusUnauthorized, wantCode: "not_authorized",
		},
		{
			name: "empty_cookie",
			req: func(session) request {
				return request{method: "GET", path: "/v1/auth/me", header: map[string]string{"Cookie": "jwt_access="}}
			},
			wantStatus: http.StatusUnauthorized, wantCode: "not_authorized",
		},
		{
			name: "cookie_of_another_name",
			req: func(s session) request {
				return request{method: "GET", path: "/v1/auth/me", header: map[string]string{"Cookie": "access=" + s.access}}
			},
			wantStatus: http.StatusUnauthorized, wantCode: "not_authorized",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			email := strings.ReplaceAll(tt.name, "_", ".") + "@example.com"
			self := ts.register(t, email, "self-secret-1")
			resp := ts.do(t, tt.req(self))
			if tt.wantCode != "" {
				wantError(t, resp, tt.wantStatus, tt.wantCode)
				return
			}
			if resp.status != tt.wantStatus {
				t.Fatalf("%s: got status %d, want %d; body %s", resp.call, resp.status, tt.wantStatus, resp.body)
			}
			if tt.wantEmail == "" {
				return
			}
			want := tt.wantEmail
			if want == "self" {
				want = email
			}
			if got := decode[meBody](t, resp).Email; got != want {
				t.Errorf("%s: got the session of %s, want %s", resp.call, got, want)
			}
		})
	}
}

func withCSRF(r request, tok string) request {
	r.header = withHeaders(r.header, "X-CSRF-Token", tok)
	return r
}

func withAuthorization(r request, value string) request {
	r.header = withHeaders(r.header, "Authorization", value)
	return r
}

func withCookie(r request, access string) request {
	r.cookie = access
	return r
}

// TestTokenTransport: with X-Auth-Transport: token, register, sign-in and
// refresh set no cookie and answer with the gem's login result; without it
// they answer the cookie way, whatever transport authenticated the
// request.
func TestTokenTransport(t *testing.T) {
	t.Parallel()
	ts := newServer(t, serverOptions{})
	const pw = "transport-secret-1"
	tests := []struct {
		name       string
		req        func(email string, s session) request
		wantStatus int
		wantTokens bool
	}{
		{
			name: "register",
			req: func(email string, _ session) request {
				return request{method: "POST", path: "/v1/auth", header: tokenTransport, body: registration("new."+email, pw, pw)}
			},
			wantStatus: http.StatusCreated, wantTokens: true,
		},
		{
			name: "sign_in",
			req: func(email string, _ session) request {
				return request{method: "POST", path: "/v1/auth/sign_in", header: tokenTransport, body: credentials(email, pw)}
			},
			wantStatus: http.StatusOK, wantTokens: true,
		},
		{
			name: "sign_in_header_value_any_case",
			req: func(email string, _ session) request {
				return request{method: "POST", path: "/v1/auth/sign_in", header: map[string]string{"x-auth-transport": "Token"}, body: credentials(email, pw)}
			},
			wantStatus: http.StatusOK, wantTokens: true,
		},
		{
			name: "refresh_by_refresh_token",
			req: func(_ string, s session) request {
				return request{method: "POST", path: "/v1/auth/refresh", header: withHeaders(tokenTransport, "X-Refresh-Token", s.refresh)}
			},
			wantStatus: http.StatusOK, wantTokens: true,
		},
		{
			name:       "refresh_by_authorization",
			req:        func(_ string, s session) request { return withTransport(s.viaHeader("POST", "/v1/auth/refresh")) },
			wantStatus: http.StatusOK, wantTokens: true,
		},
		{
			name: "sign_in_without_transport_header",
			req: func(email string, _ session) request {
				return request{method: "POST", path: "/v1/auth/sign_in", body: credentials(email, pw)}
			},
			wantStatus: http.StatusOK,
		},
		{
			name: "refresh_by_refresh_token_without_transport_header",
			req: func(_ string, s session) request {
				return request{method: "POST", path: "/v1/auth/refresh", header: map[string]string{"X-Refresh-Token": s.refresh}}
			},
			wantStatus: http.StatusOK,
		},
		{
			name:       "refresh_by_authorization_without_transport_header",
			req:        func(_ string, s session) request { return s.viaHeader("POST", "/v1/auth/refresh") },
			wantStatus: http.StatusOK,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			email := fmt.Sprintf("transport%d@example.com", i)
			ts.register(t, email, pw)
			s := ts.signInTokens(t, email, pw)
			resp := ts.do(t, tt.req(email, s))
			var got session
			if !tt.wantTokens {
				got = grantOf(t, resp, tt.wantStatus)
			} else {
				got = tokensOf(t, resp, tt.wantStatus)
				body := decode[map[string]string](t, resp)
				want := map[string]string{
					"access_expires_at":  epoch.Add(accessTTL).Format("2006-01-02T15:04:05Z"),
					"refresh_expires_at": epoch.Add(sessionTTL).Format("2006-01-02T15:04:05Z"),
				}
				for k, v := range want {
					if body[k] != v {
						t.Errorf("%s: got %s %q, want %q", resp.call, k, body[k], v)
					}
				}
			}
			ts.wantStatus(t, http.StatusOK, got.viaHeader("GET", "/v1/auth/me"), got.viaCookie("GET", "/v1/auth/verify"))
		})
	}
}

func withTransport(r request) request {
	r.header = withHeaders(r.header, "X-Auth-Transport", "token")
	return r
}
