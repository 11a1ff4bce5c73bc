package httpapi_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/password"
)

// wantUnavailable checks the answer to a request refused for lack of
// hashing capacity: 503 unavailable with Retry-After.
func wantUnavailable(t *testing.T, resp response) {
	t.Helper()
	wantBody(t, resp, http.StatusServiceUnavailable, `{"error":"Service temporarily unavailable","code":"unavailable"}`)
	if got := resp.header.Get("Retry-After"); got != "1" {
		t.Errorf("%s: got Retry-After %q, want %q", resp.call, got, "1")
	}
}

// TestHashCapacity_Busy: while every hashing slot is taken, each endpoint
// that hashes answers 503 after the limiter's short wait instead of
// queueing; once a slot frees up it works again.
func TestHashCapacity_Busy(t *testing.T) {
	t.Parallel()
	limiter := password.NewLimiter(1, 10*time.Millisecond)
	ts := newServer(t, serverOptions{limiter: limiter})
	const email, pw = "busy@example.com", "busy-secret-1"
	s := ts.register(t, email, pw)

	release, _, err := limiter.Acquire(t.Context(), "")
	if err != nil {
		t.Fatalf("Limiter.Acquire: %v", err)
	}
	tests := []struct {
		name string
		req  request
	}{
		{name: "sign_in", req: request{method: "POST", path: "/v1/auth/sign_in", body: credentials(email, pw)}},
		{name: "sign_in_unknown_email", req: request{method: "POST", path: "/v1/auth/sign_in", body: credentials("nobody@example.com", pw)}},
		{name: "register", req: request{method: "POST", path: "/v1/auth", body: registration("new@example.com", pw, pw)}},
		{name: "change_password", req: changePassword(s, passwordChange(pw, "busy-secret-2", "busy-secret-2"))},
	}
	for _, tt := range tests {
		tt.req.unavailableOK = true
		wantUnavailable(t, ts.do(t, tt.req))
	}
	// Nothing hashed, nothing changed: the session and password still work.
	ts.wantStatus(t, http.StatusOK, s.viaHeader("GET", "/v1/auth/me"))
	release()
	ts.signIn(t, email, pw)
	ts.register(t, "new@example.com", pw)
}

// TestHashCapacity_ConcurrentSignIns: a burst of sign-ins against one slot
// and a hash slower than the wait: some succeed, the rest get 503 with
// Retry-After, none a 500.
func TestHashCapacity_ConcurrentSignIns(t *testing.T) {
	t.Parallel()
	const burst = 8
	slow := password.NewHasher(password.Params{Memory: 16 << 10, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32})
	ts := newServer(t, serverOptions{hasher: slow, limiter: password.NewLimiter(1, 10*time.Millisecond)})
	const email, pw = "burst@example.com", "burst-secret-1"
	ts.register(t, email, pw)

	resps := make([]response, burst)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range resps {
		wg.Go(func() {
			<-start
			resps[i] = ts.do(t, request{method: "POST", path: "/v1/auth/sign_in", body: credentials(email, pw), unavailableOK: true})
		})
	}
	close(start)
	wg.Wait()
	count := map[int]int{}
	for _, resp := range resps {
		count[resp.status]++
		switch resp.status {
		case http.StatusOK:
			grantOf(t, resp, http.StatusOK)
		case http.StatusServiceUnavailable:
			wantUnavailable(t, resp)
		default:
			t.Errorf("%s: got status %d, want 200 or 503; body %s", resp.call, resp.status, resp.body)
		}
	}
	if count[http.StatusOK] == 0 || count[http.StatusServiceUnavailable] == 0 {
		t.Errorf("%d concurrent sign-ins on 1 hashing slot: got statuses %v, want some 200 and some 503", burst, count)
	}
}
