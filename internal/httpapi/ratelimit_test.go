package httpapi_test

import (
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// TestRateLimit: per-IP budgets and per-account back-off answer 429
// rate_limited with Retry-After, the same for known and unknown emails,
// and lift when their window has passed. Each row runs its steps in order
// on a server of its own.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	const email, pw = "limited@example.com", "limited-secret-1"
	signIn := func(email, pw string) func(session) request {
		return func(session) request {
			return request{method: "POST", path: "/v1/auth/sign_in", body: credentials(email, pw)}
		}
	}
	type step struct {
		advance        time.Duration
		req            func(s session) request
		wantStatus     int
		wantRetryAfter string // for 429
	}
	tests := []struct {
		name   string
		limits auth.Limits
		steps  []step
	}{
		{
			name:   "sign_in_per_ip",
			limits: auth.Limits{SignInPerIP: 2},
			steps: []step{
				{req: signIn(email, pw), wantStatus: 200},
				{req: signIn(email, pw), wantStatus: 200},
				{req: signIn(email, pw), wantStatus: 429, wantRetryAfter: "60"},
				{advance: 30 * time.Second, req: signIn("unknown@example.com", pw), wantStatus: 429, wantRetryAfter: "30"},
				{advance: 30 * time.Second, req: signIn(email, pw), wantStatus: 200},
			},
		},
		{
			name:   "register_per_ip",
			limits: auth.Limits{RegisterPerIP: 1},
			steps: []step{
				{req: func(session) request {
					return request{method: "POST", path: "/v1/auth", body: registration("r2@example.com", pw, pw)}
				}, wantStatus: 201},
				{req: func(session) request {
					return request{method: "POST", path: "/v1/auth", body: registration("r3@example.com", pw, pw)}
				}, wantStatus: 429, wantRetryAfter: "60"},
				{advance: time.Minute, req: func(session) request {
					return request{method: "POST", path: "/v1/auth", body: registration("r3@example.com", pw, pw)}
				}, wantStatus: 201},
			},
		},
		{
			name:   "refresh_per_ip",
			limits: auth.Limits{RefreshPerIP: 1},
			steps: []step{
				{req: byRefreshToken, wantStatus: 200},
				{req: byRefreshToken, wantStatus: 429, wantRetryAfter: "60"},
			},
		},
		{
			name:   "failed_sign_ins_back_off",
			limits: auth.Limits{PairFreeFailures: 2},
			steps: []step{
				{req: signIn(email, "wrong-1"), wantStatus: 401},
				{req: signIn(email, "wrong-2"), wantStatus: 401},
				{req: signIn(email, "wrong-3"), wantStatus: 401},
				{req: signIn(email, pw), wantStatus: 429, wantRetryAfter: "1"},
				{advance: time.Second, req: signIn(email, pw), wantStatus: 200},
			},
		},
		{
			name:   "failed_sign_ins_back_off_unknown_email",
			limits: auth.Limits{PairFreeFailures: 2},
			steps: []step{
				{req: signIn("nobody@example.com", "wrong-1"), wantStatus: 401},
				{req: signIn("nobody@example.com", "wrong-2"), wantStatus: 401},
				{req: signIn("nobody@example.com", "wrong-3"), wantStatus: 401},
				{req: signIn("nobody@example.com", "wrong-4"), wantStatus: 429, wantRetryAfter: "1"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := newServer(t, serverOptions{limits: &tt.limits})
			ts.register(t, email, pw)
			s := ts.signInTokens(t, email, pw)
			ts.clock.Advance(time.Minute) // a fresh window for the steps
			for i, step := range tt.steps {
				ts.clock.Advance(step.advance)
				resp := ts.do(t, step.req(s))
				if step.wantStatus != http.StatusTooManyRequests {
					if resp.status != step.wantStatus {
						t.Errorf("step %d, %s: got status %d, want %d; body %s", i, resp.call, resp.status, step.wantStatus, resp.body)
					}
					continue
				}
				wantBody(t, resp, http.StatusTooManyRequests, `{"error":"Too many requests","code":"rate_limited"}`)
				if got := resp.header.Get("Retry-After"); got != step.wantRetryAfter {
					t.Errorf("step %d, %s: got Retry-After %q, want %q", i, resp.call, got, step.wantRetryAfter)
				}
			}
		})
	}
}

// TestAddressBlockSharesOneBudget: behind a trusted proxy, a client that
// rotates its address within the block it holds (an IPv6 /64 by default,
// --ipv6-prefix otherwise) spends one per-address budget, while a client
// in the next block has its own. Zones and IPv4-mapped spellings are the
// same client.
func TestAddressBlockSharesOneBudget(t *testing.T) {
	t.Parallel()
	proxy := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	tests := []struct {
		name       string
		ipv6Prefix int
		rotate     []string // X-Forwarded-For of the requests that spend the budget of 2
		other      string   // a client that must still be let in
	}{
		{name: "ipv6_rotating_in_a_64", rotate: []string{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9", "2001:db8:1:2:1234:5678:9abc:def0"}, other: "2001:db8:1:3::1"},
		{name: "ipv6_rotating_in_a_56", ipv6Prefix: 56, rotate: []string{"2001:db8:1:200::1", "2001:db8:1:2ff::1", "2001:db8:1:2aa::7"}, other: "2001:db8:1:300::1"},
		{name: "ipv6_zones", ipv6Prefix: 128, rotate: []string{"fe80::1%eth0", "fe80::1%eth1", "fe80::1"}, other: "fe80::2"},
		{name: "ipv4_mapped", rotate: []string{"203.0.113.7", "::ffff:203.0.113.7", "203.0.113.7"}, other: "203.0.113.8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := newServer(t, serverOptions{limits: &auth.Limits{SignInPerIP: 2}, trustedProxies: proxy, ipv6Prefix: tt.ipv6Prefix})
			from := func(xff string) request {
				return request{method: "POST", path: "/v1/auth/sign_in", body: credentials("nobody@example.com", "wrong-password"),
					header: map[string]string{"X-Forwarded-For": xff}}
			}
			for i, xff := range tt.rotate {
				want := http.StatusUnauthorized
				if i >= 2 {
					want = http.StatusTooManyRequests
				}
				if resp := ts.do(t, from(xff)); resp.status != want {
					t.Errorf("sign-in %d from %s: got %d, want %d; body %s", i+1, xff, resp.status, want, resp.body)
				}
			}
			if resp := ts.do(t, from(tt.other)); resp.status != http.StatusUnauthorized {
				t.Errorf("sign-in from %s, outside the spent block: got %d, want 401; body %s", tt.other, resp.status, resp.body)
			}
		})
	}
}
