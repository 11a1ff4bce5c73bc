package main

import (
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// The multi-node tests: several real gatehouse processes on one
// PostgreSQL database, as behind a load balancer. Each node keeps a session
// cache and hears the others' changes through the LISTEN/NOTIFY change
// feed; these tests check what a client can see of that from outside.

// TestClusterRevocation: a session ended on one node is refused by every
// other node within revocationBound, whether it was signed out, revoked by
// id from another session, or revoked by a password change. It reports the
// measured delays, from the moment the revoking response arrived to the
// first 401 on each other node.
func TestClusterRevocation(t *testing.T) {
	serverURL := requireCluster(t)
	db := newTestDB(t, serverURL)
	nodes := startNodes(t, []string{"A", "B", "C"}, db.url, "--rate-limit=false")
	a, b, c := nodes[0], nodes[1], nodes[2]
	db.waitListeners(t, len(nodes), nil, 10*time.Second)

	email := randomEmail("revocation")
	must(t, "register on A", a.register(email), http.StatusCreated)

	// signIn starts a session on node on and has every node in warm cache it
	// (a 200 from each), so that the revocation has to reach a cache rather
	// than a node reading the database for the first time.
	signIn := func(on *node, warm ...*node) reply {
		t.Helper()
		r := must(t, "sign in on "+on.name, on.signIn(email, clusterPassword), http.StatusOK)
		for _, n := range warm {
			must(t, "verify a new session on "+n.name, n.verify(r.str("access")), http.StatusOK)
		}
		return r
	}

	t.Run("SignOut", func(t *testing.T) {
		// Sessions one after another (the user has one live session at a
		// time, far below the per-user cap). Sign-ins hash a password, so
		// under -race the loop stops early rather than blow the budget.
		// GATEHOUSE_BENCH_REVOCATIONS=1000 turns this into the propagation
		// benchmark of docs/benchmarks.md.
		sessions, budget := 50, 20*time.Second
		if n, err := strconv.Atoi(os.Getenv("GATEHOUSE_BENCH_REVOCATIONS")); err == nil && n > 0 {
			sessions, budget = n, time.Duration(n)*200*time.Millisecond
		}
		var delays []time.Duration
		start := time.Now()
		for i := 0; i < sessions && (i < 10 || time.Since(start) < budget); i++ {
			s := signIn(b, a, c)
			must(t, "sign out on B", b.do("DELETE", "/v1/auth/sign_out", "", bearer(s.str("access"))...), http.StatusOK)
			signedOut := time.Now()
			for _, d := range waitRejected(t, []*node{a, c}, s.str("access"), signedOut, revocationBound) {
				delays = append(delays, d)
			}
			if t.Failed() {
				return
			}
		}
		t.Logf("sign-out on B → 401 on A and C: %d samples, p50 %v, p99 %v, max %v",
			len(delays), percentile(delays, 50), percentile(delays, 99), percentile(delays, 100))
	})

	t.Run("RevokeByID", func(t *testing.T) {
		victim := signIn(a, a, b, c)
		other := signIn(c)
		id := must(t, "verify on C", c.verify(victim.str("access")), http.StatusOK).header.Get("X-Session-Id")
		if id == "" {
			t.Fatal("verify on C: no X-Session-Id header")
		}
		must(t, "DELETE /v1/auth/sessions/{id} on C", c.do("DELETE", "/v1/auth/sessions/"+id, "", bearer(other.str("access"))...), http.StatusOK)
		delays := waitRejected(t, []*node{a, b}, victim.str("access"), time.Now(), revocationBound)
		t.Logf("session revoked by id on C → 401 on A after %v, on B after %v", delays["A"], delays["B"])
		must(t, "verify the revoking session on A", a.verify(other.str("access")), http.StatusOK)
	})

	t.Run("PasswordChange", func(t *testing.T) {
		changer := signIn(a, a)
		others := []reply{signIn(b, b, c), signIn(b, b, c)}
		const newPassword = "a brand new passphrase"
		body := `{"current_password":"` + clusterPassword + `","password":"` + newPassword + `","password_confirmation":"` + newPassword + `"}`
		changed := must(t, "PUT /v1/auth/password on A", a.do("PUT", "/v1/auth/password", body, bearer(changer.str("access"))...), http.StatusOK)
		at := time.Now()
		for i, o := range others {
			delays := waitRejected(t, []*node{b, c}, o.str("access"), at, revocationBound)
			t.Logf("password change on A → other session %d: 401 on B after %v, on C after %v", i+1, delays["B"], delays["C"])
		}
		for _, n := range nodes {
			must(t, "verify the changer's new token on "+n.name, n.verify(changed.str("access")), http.StatusOK)
		}
		must(t, "sign in with the new password on C", c.signIn(email, newPassword), http.StatusOK)
		if r := b.signIn(email, clusterPassword); r.status != http.StatusUnauthorized {
			t.Errorf("sign in with the old password on B: got %v, want 401", r)
		}
	})
}

// TestClusterRefresh: concurrent refreshes of one session through two
// nodes rotate it once, and every caller gets the winner's tokens; after
// the grace window the replaced refresh token is reuse, which revokes the
// session on every node.
func TestClusterRefresh(t *testing.T) {
	serverURL := requireCluster(t)
	db := newTestDB(t, serverURL)
	const grace = time.Second
	nodes := startNodes(t, []string{"A", "B"}, db.url, "--rate-limit=false", "--refresh-grace="+grace.String())
	a, b := nodes[0], nodes[1]
	db.waitListeners(t, len(nodes), nil, 10*time.Second)

	first := must(t, "register on A", a.register(randomEmail("refresh")), http.StatusCreated)
	for _, n := range nodes {
		must(t, "verify on "+n.name, n.verify(first.str("access")), http.StatusOK)
	}

	const callers = 8
	replies := make([]reply, callers)
	ready := make(chan struct{})
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			<-ready
			replies[i] = nodes[i%2].refresh(first.str("refresh"))
		})
	}
	close(ready)
	wg.Wait()
	rotated := replies[0]
	for i, r := range replies {
		if r.err != nil || r.status != http.StatusOK {
			t.Fatalf("refresh %d of %d on node %s: got %v, want 200", i+1, callers, nodes[i%2].name, r)
		}
		if r.str("access") != rotated.str("access") || r.str("refresh") != rotated.str("refresh") {
			t.Errorf("refresh %d of %d on node %s: got other tokens than refresh 1, want all the same (one rotation)", i+1, callers, nodes[i%2].name)
		}
	}
	if rotated.str("access") == first.str("access") {
		t.Fatal("concurrent refreshes: access token unchanged, want a rotation")
	}
	for _, n := range nodes {
		must(t, "verify the rotated token on "+n.name, n.verify(rotated.str("access")), http.StatusOK)
	}

	time.Sleep(grace + 200*time.Millisecond)
	for _, n := range nodes {
		if r := n.verify(first.str("access")); r.status != http.StatusUnauthorized {
			t.Errorf("verify the replaced token on %s after the grace window: got %v, want 401", n.name, r)
		}
	}
	reuse := b.refresh(first.str("refresh"))
	reusedAt := time.Now()
	if reuse.status != http.StatusUnauthorized || reuse.code() != "token_reused" {
		t.Fatalf("refresh with the replaced token on B after the grace window: got %v, want 401 token_reused", reuse)
	}
	delays := waitRejected(t, nodes, rotated.str("access"), reusedAt, revocationBound)
	t.Logf("reuse detected on B → newest token 401 on A after %v, on B after %v", delays["A"], delays["B"])
	if r := a.refresh(rotated.str("refresh")); r.status != http.StatusUnauthorized {
		t.Errorf("refresh with the newest token on A after reuse: got %v, want 401", r)
	}
}

// TestClusterSharedLimits: two nodes enforce one per-IP sign-in budget
// between them (60 a minute, auth.DefaultLimits), not one each, with the
// counts in PostgreSQL and with them in Redis.
func TestClusterSharedLimits(t *testing.T) {
	serverURL := requireCluster(t)
	for _, tc := range []struct {
		name  string
		redis int // Redis database index, or -1 to count in PostgreSQL
	}{
		{name: "PostgreSQL", redis: -1},
		{name: "Redis", redis: 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := newTestDB(t, serverURL)
			var flags []string
			if tc.redis >= 0 {
				redisURL, _ := redisDB(t, tc.redis)
				flags = append(flags, "--redis", redisURL)
			}
			nodes := startNodes(t, []string{"A", "B"}, db.url, flags...)

			// 40 failed sign-ins through each node, two at a time per node:
			// within the hash slots, so no answer is a 503 for want of one.
			const perNode, budget = 40, 60
			var mu sync.Mutex
			statuses := make(map[int]int)
			var wg sync.WaitGroup
			for _, n := range nodes {
				for range 2 {
					wg.Go(func() {
						for range perNode / 2 {
							r := n.signIn(randomEmail("limits"), "wrong password")
							if r.err != nil {
								t.Errorf("sign in on %s: %v", n.name, r.err)
								continue
							}
							if r.status == http.StatusTooManyRequests {
								if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
									t.Errorf("429 from %s: Retry-After %q, want a positive number of seconds", n.name, r.header.Get("Retry-After"))
								}
							}
							mu.Lock()
							statuses[r.status]++
							mu.Unlock()
						}
					})
				}
			}
			wg.Wait()
			t.Logf("%d sign-ins through each of 2 nodes: statuses %v", perNode, statuses)
			if statuses[http.StatusUnauthorized] != budget || statuses[http.StatusTooManyRequests] != 2*perNode-budget {
				t.Errorf("%d failed sign-ins from one IP through 2 nodes: got statuses %v, want %d × 401 and %d × 429 (one shared budget of %d)",
					2*perNode, statuses, budget, 2*perNode-budget, budget)
			}
		})
	}
}
