package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// bodyOfSize is a sign-in body of exactly n bytes (n ≥ 64), padded with an
// unknown field.
func bodyOfSize(n int) string {
	head := `{"email":"nobody@example.com","password":"whatever-1","pad":"`
	return head + strings.Repeat("p", n-len(head)-2) + `"}`
}

// TestInput: the one strict JSON decoder in front of every body, and the
// limits on size and media type. Rows without a path post to sign_in,
// where a body that gets through decoding is a 401.
func TestInput(t *testing.T) {
	t.Parallel()
	ts := newServer(t, serverOptions{})
	s := ts.register(t, "input@example.com", goodPassword)
	tests := []struct {
		name        string
		req         request
		wantStatus  int
		wantCode    string
		wantMessage string // if set, the exact error
	}{
		{name: "malformed_json", req: request{body: `{"email":`}, wantStatus: 400, wantCode: "bad_request"},
		{name: "json_array", req: request{body: `[{"email":"a@b.co","password":"x"}]`}, wantStatus: 400, wantCode: "bad_request"},
		{name: "json_string", req: request{body: `"email"`}, wantStatus: 400, wantCode: "bad_request"},
		{name: "json_null", req: request{body: `null`}, wantStatus: 400, wantCode: "bad_request"},
		{name: "empty_body", req: request{header: map[string]string{"Content-Type": "application/json"}}, wantStatus: 400, wantCode: "bad_request"},
		{name: "wrong_type_number", req: request{body: `{"email": 1, "password": "x"}`}, wantStatus: 400, wantCode: "bad_request", wantMessage: `Invalid request body: "email" must be a string`},
		{name: "wrong_type_bool", req: request{body: `{"email": "a@b.co", "password": true}`}, wantStatus: 400, wantCode: "bad_request"},
		{name: "wrong_type_object", req: request{body: `{"email": {"$ne": ""}, "password": "x"}`}, wantStatus: 400, wantCode: "bad_request"},
		{name: "wrong_type_array", req: request{body: `{"email": ["a@b.co"], "password": "x"}`}, wantStatus: 400, wantCode: "bad_request"},
		{name: "duplicate_key", req: request{body: `{"email":"a@b.co","email":"input@example.com","password":"x"}`}, wantStatus: 400, wantCode: "bad_request", wantMessage: `Invalid request body: duplicate key "email"`},
		{name: "duplicate_key_escaped", req: request{body: `{"email":"a@b.co","\u0065mail":"input@example.com","password":"x"}`}, wantStatus: 400, wantCode: "bad_request"},
		{name: "duplicate_unknown_key_other_case", req: request{body: `{"email":"a@b.co","password":"x","remember":1,"Remember":2}`}, wantStatus: 400, wantCode: "bad_request"},
		{name: "case_variant_key", req: request{body: `{"Email":"input@example.com","password":"x"}`}, wantStatus: 400, wantCode: "bad_request"},
		{name: "case_variant_key_unicode_fold", req: request{body: `{"email":"input@example.com","paſſword":"x"}`}, wantStatus: 400, wantCode: "bad_request"},
		{name: "case_variant_after_exact_key", req: request{body: `{"email":"a@b.co","EMAIL":"input@example.com","password":"x"}`}, wantStatus: 400, wantCode: "bad_request"},
		{name: "trailing_object", req: request{body: `{} {}`}, wantStatus: 400, wantCode: "bad_request"},
		{name: "trailing_garbage", req: request{body: `{"email":"a@b.co","password":"x"}x`}, wantStatus: 400, wantCode: "bad_request"},
		{name: "trailing_comma", req: request{body: `{"email":"a@b.co","password":"x",}`}, wantStatus: 400, wantCode: "bad_request"},
		{name: "invalid_utf8_in_value", req: request{body: "{\"email\":\"a\xff@b.co\",\"password\":\"x\"}"}, wantStatus: 400, wantCode: "bad_request"},
		{name: "invalid_utf8_in_unknown_field", req: request{body: "{\"email\":\"a@b.co\",\"password\":\"x\",\"n\":\"\xc3\"}"}, wantStatus: 400, wantCode: "bad_request"},
		{name: "byte_order_mark", req: request{body: "\ufeff{\"email\":\"a@b.co\",\"password\":\"x\"}"}, wantStatus: 400, wantCode: "bad_request"},
		{name: "unknown_fields_ignored", req: request{body: `{"email":"a@b.co","password":"x","remember_me":{"days":[30]},"user":null}`}, wantStatus: 401, wantCode: "invalid_credentials"},
		{name: "whitespace_around_object", req: request{body: " \n\t{\"email\":\"a@b.co\",\"password\":\"x\"}\r\n "}, wantStatus: 401, wantCode: "invalid_credentials"},
		{name: "body_16_kib", req: request{body: bodyOfSize(16 << 10)}, wantStatus: 401, wantCode: "invalid_credentials"},
		{name: "body_16_kib_chunked", req: request{body: bodyOfSize(16 << 10), chunked: true}, wantStatus: 401, wantCode: "invalid_credentials"},
		{name: "body_over_16_kib", req: request{body: bodyOfSize(16<<10 + 1)}, wantStatus: 413, wantCode: "payload_too_large"},
		{name: "body_over_16_kib_chunked", req: request{body: bodyOfSize(16<<10 + 1), chunked: true}, wantStatus: 413, wantCode: "payload_too_large"},
		{name: "body_1_mib_chunked", req: request{body: bodyOfSize(1 << 20), chunked: true}, wantStatus: 413, wantCode: "payload_too_large"},
		{name: "register_body_over_16_kib", req: request{method: "POST", path: "/v1/auth", body: bodyOfSize(16<<10 + 1)}, wantStatus: 413, wantCode: "payload_too_large"},
		{name: "content_type_text_plain", req: request{body: credentials("a@b.co", "x"), header: map[string]string{"Content-Type": "text/plain"}}, wantStatus: 415, wantCode: "unsupported_media_type"},
		{name: "content_type_form", req: request{body: "email=a@b.co&password=x", header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, wantStatus: 415, wantCode: "unsupported_media_type"},
		{name: "content_type_missing", req: request{body: credentials("a@b.co", "x"), header: map[string]string{"Content-Type": ""}}, wantStatus: 415, wantCode: "unsupported_media_type"},
		{name: "content_type_json_with_charset", req: request{body: credentials("a@b.co", "x"), header: map[string]string{"Content-Type": "application/json; charset=utf-8"}}, wantStatus: 401, wantCode: "invalid_credentials"},
		{
			name:       "change_password_wrong_type",
			req:        changePassword(s, `{"current_password":1,"password":"x","password_confirmation":"x"}`),
			wantStatus: 400, wantCode: "bad_request",
		},
		{
			name:       "change_password_text_plain",
			req:        withHeader(changePassword(s, passwordChange(goodPassword, newPassword, newPassword)), "Content-Type", "text/plain"),
			wantStatus: 415, wantCode: "unsupported_media_type",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := tt.req
			if req.method == "" {
				req.method, req.path = "POST", "/v1/auth/sign_in"
			}
			e := wantError(t, ts.do(t, req), tt.wantStatus, tt.wantCode)
			if tt.wantMessage != "" && e.Error != tt.wantMessage {
				t.Errorf("%s: got error %q, want %q", req.call(), e.Error, tt.wantMessage)
			}
		})
	}
}

func withHeader(r request, name, value string) request {
	r.header = withHeaders(r.header, name, value)
	return r
}

// TestRouting: every route of routes.go answers in JSON with the common
// headers (checked by do), unknown routes are a JSON 404 and wrong methods
// a JSON 405 with Allow.
func TestRouting(t *testing.T) {
	t.Parallel()
	ts := newServer(t, serverOptions{})
	tests := []struct {
		name       string
		req        request
		wantStatus int
		wantCode   string
		wantAllow  string
		wantBody   string
	}{
		{name: "register_empty", req: request{method: "POST", path: "/v1/auth", body: "{}"}, wantStatus: 422, wantCode: "validation_failed"},
		{name: "sign_in_empty", req: request{method: "POST", path: "/v1/auth/sign_in", body: "{}"}, wantStatus: 401, wantCode: "invalid_credentials"},
		{name: "sign_out_anonymous", req: request{method: "DELETE", path: "/v1/auth/sign_out"}, wantStatus: 401, wantCode: "not_authorized"},
		{name: "refresh_anonymous", req: request{method: "POST", path: "/v1/auth/refresh"}, wantStatus: 401, wantCode: "not_authorized"},
		{name: "me_anonymous", req: request{method: "GET", path: "/v1/auth/me"}, wantStatus: 401, wantCode: "not_authorized"},
		{name: "sessions_anonymous", req: request{method: "GET", path: "/v1/auth/sessions"}, wantStatus: 401, wantCode: "not_authorized"},
		{name: "revoke_sessions_anonymous", req: request{method: "DELETE", path: "/v1/auth/sessions?scope=all"}, wantStatus: 401, wantCode: "not_authorized"},
		{name: "revoke_session_anonymous", req: request{method: "DELETE", path: "/v1/auth/sessions/x"}, wantStatus: 401, wantCode: "not_authorized"},
		{name: "password_anonymous", req: request{method: "PUT", path: "/v1/auth/password", body: "{}"}, wantStatus: 401, wantCode: "not_authorized"},
		{name: "verify_anonymous", req: request{method: "GET", path: "/v1/auth/verify"}, wantStatus: 401, wantCode: "not_authorized"},
		{name: "healthz", req: request{method: "GET", path: "/healthz"}, wantStatus: 200, wantBody: `{"status":"ok"}`},
		{name: "readyz", req: request{method: "GET", path: "/readyz"}, wantStatus: 200, wantBody: `{"status":"ok"}`},
		{name: "unknown_route", req: request{method: "GET", path: "/v1/nope"}, wantStatus: 404, wantCode: "not_found"},
		{name: "unknown_route_post", req: request{method: "POST", path: "/v1/auth/sign_up", body: "{}"}, wantStatus: 404, wantCode: "not_found"},
		{name: "root", req: request{method: "GET", path: "/"}, wantStatus: 404, wantCode: "not_found"},
		{name: "sessions_trailing_slash", req: request{method: "GET", path: "/v1/auth/sessions/"}, wantStatus: 404, wantCode: "not_found"},
		{name: "unclean_path_dot", req: request{method: "GET", path: "/v1/auth/./me"}, wantStatus: 404, wantCode: "not_found"},
		{name: "unclean_path_double_slash", req: request{method: "POST", path: "/v1//auth/sign_in", body: "{}"}, wantStatus: 404, wantCode: "not_found"},
		{name: "sign_out_get", req: request{method: "GET", path: "/v1/auth/sign_out"}, wantStatus: 405, wantCode: "method_not_allowed", wantAllow: "DELETE"},
		{name: "sign_in_get", req: request{method: "GET", path: "/v1/auth/sign_in"}, wantStatus: 405, wantCode: "method_not_allowed", wantAllow: "POST"},
		{name: "register_put", req: request{method: "PUT", path: "/v1/auth", body: "{}"}, wantStatus: 405, wantCode: "method_not_allowed", wantAllow: "POST"},
		{name: "me_post", req: request{method: "POST", path: "/v1/auth/me", body: "{}"}, wantStatus: 405, wantCode: "method_not_allowed", wantAllow: "GET, HEAD"},
		{name: "sessions_post", req: request{method: "POST", path: "/v1/auth/sessions", body: "{}"}, wantStatus: 405, wantCode: "method_not_allowed", wantAllow: "DELETE, GET, HEAD"},
		{name: "password_post", req: request{method: "POST", path: "/v1/auth/password", body: "{}"}, wantStatus: 405, wantCode: "method_not_allowed", wantAllow: "PUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := ts.do(t, tt.req)
			if tt.wantBody != "" {
				wantBody(t, resp, tt.wantStatus, tt.wantBody)
			} else {
				wantError(t, resp, tt.wantStatus, tt.wantCode)
			}
			if got := resp.header.Get("Allow"); got != tt.wantAllow {
				t.Errorf("%s: got Allow %q, want %q", resp.call, got, tt.wantAllow)
			}
		})
	}
}

// TestReadyz_StorageDown: a load balancer sees 503 with Retry-After when
// storage is unreachable, and nothing about why.
func TestReadyz_StorageDown(t *testing.T) {
	t.Parallel()
	ts := newServer(t, serverOptions{ready: func(context.Context) error {
		return errors.New("sqlite: ping /var/lib/gatehouse.db: disk I/O error")
	}})
	resp := ts.do(t, request{method: "GET", path: "/readyz", unavailableOK: true})
	wantBody(t, resp, http.StatusServiceUnavailable, `{"error":"Service temporarily unavailable","code":"unavailable"}`)
	if got := resp.header.Get("Retry-After"); got != "1" {
		t.Errorf("%s: got Retry-After %q, want %q", resp.call, got, "1")
	}
	wantBody(t, ts.do(t, request{method: "GET", path: "/healthz"}), http.StatusOK, `{"status":"ok"}`)
}
