package httpapi_test

import (
	"net/http"
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
