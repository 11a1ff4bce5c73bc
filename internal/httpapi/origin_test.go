package httpapi_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

const appOrigin = "https://app.example"

// TestCrossOrigin: browsers' cross-origin state-changing requests are
// refused (403) unless their origin is configured, which also gets the
// CORS headers that let the page read the answer (Retry-After included).
// A preflight from an unlisted origin is a JSON 403 and a warning in the
// log; a preflight from a listed one allows the API's headers, what SPA
// frameworks and tracing add, and --cors-headers.
func TestCrossOrigin(t *testing.T) {
	t.Parallel()
	ts := newServer(t, serverOptions{corsOrigins: []string{appOrigin}, corsHeaders: []string{"X-Tenant"}})
	const email, pw = "cors@example.com", "cors-secret-1"
	s := ts.register(t, email, pw)
	signIn := func(kv ...string) request {
		return request{method: "POST", path: "/v1/auth/sign_in", header: withHeaders(nil, kv...), body: credentials(email, pw)}
	}
	tests := []struct {
		name       string
		req        request
		wantStatus int
		wantCode   string // for errors
		wantCORS   bool   // Access-Control-Allow-Origin and -Credentials
	}{
		{name: "sign_in_cross_site", req: signIn("Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"), wantStatus: 403, wantCode: "forbidden"},
		{name: "sign_in_same_site", req: signIn("Sec-Fetch-Site", "same-site", "Origin", "https://evil.app.example"), wantStatus: 403, wantCode: "forbidden"},
		{name: "sign_in_foreign_origin_without_fetch_metadata", req: signIn("Origin", "https://evil.example"), wantStatus: 403, wantCode: "forbidden"},
		{name: "sign_in_null_origin", req: signIn("Origin", "null"), wantStatus: 403, wantCode: "forbidden"},
		{name: "register_cross_site", req: request{method: "POST", path: "/v1/auth", header: map[string]string{"Sec-Fetch-Site": "cross-site"}, body: registration("x@example.com", pw, pw)}, wantStatus: 403, wantCode: "forbidden"},
		{name: "sign_out_cross_site_with_bearer_token", req: withHeader(s.viaHeader("DELETE", "/v1/auth/sign_out"), "Sec-Fetch-Site", "cross-site"), wantStatus: 403, wantCode: "forbidden"},
		{name: "refresh_cross_site_with_cookie", req: withHeader(byCookie(s), "Origin", "https://evil.example"), wantStatus: 403, wantCode: "forbidden"},
		{name: "sign_in_configured_origin", req: signIn("Sec-Fetch-Site", "cross-site", "Origin", appOrigin), wantStatus: 200, wantCORS: true},
		{name: "sign_in_configured_origin_without_fetch_metadata", req: signIn("Origin", appOrigin), wantStatus: 200, wantCORS: true},
		{name: "sign_in_same_origin", req: signIn("Sec-Fetch-Site", "same-origin", "Origin", ts.url), wantStatus: 200},
		{name: "sign_in_origin_of_this_host", req: signIn("Origin", ts.url), wantStatus: 200},
		{name: "sign_in_user_initiated", req: signIn("Sec-Fetch-Site", "none"), wantStatus: 200},
		{name: "sign_in_script_without_origin", req: signIn(), wantStatus: 200},
		{name: "me_cross_site_get", req: withHeader(s.viaCookie("GET", "/v1/auth/me"), "Sec-Fetch-Site", "cross-site"), wantStatus: 200},
		{name: "me_configured_origin_get", req: withHeader(s.viaCookie("GET", "/v1/auth/me"), "Origin", appOrigin), wantStatus: 200, wantCORS: true},
		{
			name: "preflight_configured_origin",
			req: request{method: "OPTIONS", path: "/v1/auth/sign_in", header: map[string]string{
				"Origin": appOrigin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-csrf-token",
			}},
			wantStatus: 204, wantCORS: true,
		},
		{
			name: "preflight_foreign_origin",
			req: request{method: "OPTIONS", path: "/v1/auth/sign_in", header: map[string]string{
				"Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
			}},
			wantStatus: 403, wantCode: "forbidden",
		},
		{
			name: "preflight_foreign_origin_with_unknown_route",
			req: request{method: "OPTIONS", path: "/v1/nothing", header: map[string]string{
				"Origin": "https://evil.example", "Access-Control-Request-Method": "DELETE",
			}},
			wantStatus: 403, wantCode: "forbidden",
		},
		{
			name: "preflight_without_origin_is_no_preflight",
			req: request{method: "OPTIONS", path: "/v1/auth/sign_in", header: map[string]string{
				"Access-Control-Request-Method": "POST",
			}},
			wantStatus: 405, wantCode: "method_not_allowed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := ts.do(t, tt.req)
			if tt.wantCode != "" {
				wantError(t, resp, tt.wantStatus, tt.wantCode)
			} else if resp.status != tt.wantStatus {
				t.Errorf("%s: got status %d, want %d; body %s", resp.call, resp.status, tt.wantStatus, resp.body)
			}
			want := map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Credentials": ""}
			if tt.wantCORS {
				want = map[string]string{"Access-Control-Allow-Origin": appOrigin, "Access-Control-Allow-Credentials": "true"}
				if !strings.Contains(resp.header.Get("Vary"), "Origin") {
					t.Errorf("%s: got Vary %q, want Origin in it", resp.call, resp.header.Get("Vary"))
				}
			}
			if tt.wantCORS && tt.wantStatus != http.StatusNoContent {
				want["Access-Control-Expose-Headers"] = "Retry-After, X-Device-Token"
			}
			if tt.wantStatus == http.StatusNoContent {
				want["Access-Control-Allow-Methods"] = "GET, POST, PUT, DELETE"
				want["Access-Control-Allow-Headers"] = "Authorization, Content-Type, X-CSRF-Token, X-Auth-Transport, X-Refresh-Token, X-Device-Token, X-Requested-With, traceparent, tracestate, X-Tenant"
			}
			for name, v := range want {
				if got := resp.header.Get(name); got != v {
					t.Errorf("%s: got %s %q, want %q", resp.call, name, got, v)
				}
			}
		})
	}
}

// TestPreflightFromUnlistedOriginIsLogged: the browser tells the page
// only that CORS failed, so the operator needs the origin in the log to
// see a missing --cors-origins entry.
func TestPreflightFromUnlistedOriginIsLogged(t *testing.T) {
	t.Parallel()
	ts := newServer(t, serverOptions{corsOrigins: []string{appOrigin}})
	resp := ts.do(t, request{method: "OPTIONS", path: "/v1/auth/sign_in", header: map[string]string{
		"Origin": "https://staging.app.example", "Access-Control-Request-Method": "POST",
	}})
	wantError(t, resp, http.StatusForbidden, "forbidden")
	if logs := ts.logs.String(); !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "origin=https://staging.app.example") {
		t.Errorf("%s from an unlisted origin: logs lack a warning naming the origin:\n%s", resp.call, logs)
	}
}

// TestClientIP: the address recorded on a session (the ip field of GET
// /v1/auth/sessions) is the peer's unless the peer is a trusted proxy;
// then it is the right-most X-Forwarded-For hop that is not one.
func TestClientIP(t *testing.T) {
	t.Parallel()
	direct := newServer(t, serverOptions{})
	proxied := newServer(t, serverOptions{trustedProxies: []netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"),
	}})
	tests := []struct {
		name          string
		behindProxy   bool
		xForwardedFor string
		wantIP        string
	}{
		{name: "untrusted_peer", wantIP: "127.0.0.1"},
		{name: "untrusted_peer_forwarded_for_ignored", xForwardedFor: "203.0.113.7", wantIP: "127.0.0.1"},
		{name: "trusted_peer_without_forwarded_for", behindProxy: true, wantIP: "127.0.0.1"},
		{name: "trusted_peer_forwarded_for", behindProxy: true, xForwardedFor: "203.0.113.7", wantIP: "203.0.113.7"},
		{name: "trusted_peer_spoofed_left_hop_ignored", behindProxy: true, xForwardedFor: "198.51.100.23, 203.0.113.7", wantIP: "203.0.113.7"},
		{name: "trusted_peer_trusted_hops_skipped", behindProxy: true, xForwardedFor: "203.0.113.7, 127.0.0.2,127.0.0.3", wantIP: "203.0.113.7"},
		{name: "trusted_peer_ipv4_mapped_hop", behindProxy: true, xForwardedFor: "::ffff:203.0.113.7", wantIP: "203.0.113.7"},
		{name: "trusted_peer_ipv6_hop", behindProxy: true, xForwardedFor: "2001:db8::1", wantIP: "2001:db8::1"},
		{name: "trusted_peer_ipv6_hop_with_zone", behindProxy: true, xForwardedFor: "fe80::1%eth0", wantIP: "fe80::1%eth0"},
		{name: "trusted_peer_garbage_hop", behindProxy: true, xForwardedFor: "not-an-address", wantIP: "127.0.0.1"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := direct
			if tt.behindProxy {
				ts = proxied
			}
			email, pw := fmt.Sprintf("ip%d@example.com", i), "client-ip-secret"
			req := request{method: "POST", path: "/v1/auth", body: registration(email, pw, pw)}
			if tt.xForwardedFor != "" {
				req.header = map[string]string{"X-Forwarded-For": tt.xForwardedFor}
			}
			s := grantOf(t, ts.do(t, req), http.StatusCreated)
			list := decode[[]sessionBody](t, ts.do(t, s.viaHeader("GET", "/v1/auth/sessions")))
			if len(list) != 1 || list[0].IP != tt.wantIP {
				t.Errorf("GET /v1/auth/sessions after registering with X-Forwarded-For %q: got %+v, want one session with ip %q",
					tt.xForwardedFor, list, tt.wantIP)
			}
		})
	}
}
