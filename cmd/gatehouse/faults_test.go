package main

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/authtest"
)

// The fault-injection tests: real nodes reach PostgreSQL or Redis through
// an authtest.Proxy, which the test cuts or freezes, under load, and restores.
// What must hold
// whatever the timing: every answer is a success, a refusal, or a 503 with
// Retry-After (never a 500, never a hang); a token revoked before the cut
// never gets a 200; and what a 201 or 200 acknowledged is still there
// after the restore.

// TestFaultPostgresCut cuts one node off PostgreSQL (its change feed too),
// then both, under load, and restores them.
func TestFaultPostgresCut(t *testing.T) {
	serverURL := requireCluster(t)
	db := newTestDB(t, serverURL)
	// A proxy per node, so one node can lose the database while the other
	// keeps it. Rate limits stay on, counted in PostgreSQL as in
	// production; each request comes from a random address (the nodes
	// trust X-Forwarded-For from loopback) so the load stays within the
	// per-IP budgets.
	pa, pb := authtest.StartProxy(t, db.target(t)), authtest.StartProxy(t, db.target(t))
	flags := []string{"--trusted-proxies=127.0.0.1"}
	a := startNodes(t, []string{"A"}, db.via(pa.Addr), flags...)[0]
	b := startNodes(t, []string{"B"}, db.via(pb.Addr), flags...)[0]
	nodes := []*node{a, b}
	feeds := db.waitListeners(t, 2, nil, 10*time.Second)

	// live stays signed in throughout; revoked is signed out before any
	// fault and must never be accepted again; isolated is signed out on A
	// while B cannot hear it.
	live := must(t, "register on A", a.register(randomEmail("live"), fromRandomIP()...), http.StatusCreated)
	revoked := must(t, "register on B", b.register(randomEmail("revoked"), fromRandomIP()...), http.StatusCreated)
	isolated := must(t, "register on B", b.register(randomEmail("isolated"), fromRandomIP()...), http.StatusCreated)
	for _, n := range nodes {
		for _, s := range []reply{live, revoked, isolated} {
			must(t, "verify on "+n.name, n.verify(s.str("access")), http.StatusOK)
		}
	}
	must(t, "sign out on A", a.do("DELETE", "/v1/auth/sign_out", "", bearer(revoked.str("access"))...), http.StatusOK)
	waitRejected(t, nodes, revoked.str("access"), time.Now(), revocationBound)

	l := startLoad(t, nodes, live.str("access"), revoked.str("access"))
	l.run("healthy", time.Second)

	// B loses the database and its feed. Once B has noticed (a session it
	// has cached gets 503, not 200), a sign-out on A that B cannot hear
	// must not be accepted by B, and once B is back it must have caught up.
	l.setPhase("B cut off")
	pb.Cut()
	waitStatus(t, b, live.str("access"), http.StatusServiceUnavailable, 2*time.Second)
	must(t, "sign out on A while B is cut off", a.do("DELETE", "/v1/auth/sign_out", "", bearer(isolated.str("access"))...), http.StatusOK)
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if r := b.verify(isolated.str("access")); r.err != nil || r.status != http.StatusServiceUnavailable {
			t.Fatalf("verify on B, cut off, of a session signed out on A: got %v, want 503", r)
		}
	}
	pb.Restore(t)
	// Ask only once B's feed is back and its cache trusted again: until
	// then B reads every session from the database, which proves nothing
	// about what it does with what it missed.
	feeds = append(feeds, db.waitListeners(t, 1, feeds, 5*time.Second)...)
	if r := waitNot(t, b, isolated.str("access"), http.StatusServiceUnavailable, 5*time.Second); r.status != http.StatusUnauthorized {
		t.Fatalf("verify on B, back, of a session signed out on A while B was cut off: got %v, want 401", r)
	}
	l.run("B back", 500*time.Millisecond)

	// PostgreSQL is unreachable for both.
	l.setPhase("both cut off")
	pa.Cut()
	pb.Cut()
	for _, n := range nodes {
		r := waitReady(t, n, http.StatusServiceUnavailable, 2*time.Second)
		if r.header.Get("Retry-After") == "" {
			t.Errorf("GET /readyz on %s with PostgreSQL cut off: 503 without Retry-After", n.name)
		}
	}
	l.run("both cut off", 3*time.Second)

	l.setPhase("recovering")
	pa.Restore(t)
	pb.Restore(t)
	restored := time.Now()
	for _, n := range nodes {
		waitReady(t, n, http.StatusOK, 10*time.Second)
		waitStatus(t, n, live.str("access"), http.StatusOK, 10*time.Second)
		t.Logf("node %s: /readyz and verify 200 again %v after PostgreSQL came back", n.name, time.Since(restored).Round(time.Millisecond))
	}
	db.waitListeners(t, 2, feeds, 5*time.Second)
	t.Logf("both change feeds listening again %v after PostgreSQL came back", time.Since(restored).Round(time.Millisecond))
	l.run("recovered", time.Second)

	// The feeds carry changes again: B hears a sign-out on A in time (B's
	// cache is trusted again, so nothing else would tell it).
	s := must(t, "register on A", a.register(randomEmail("after"), fromRandomIP()...), http.StatusCreated)
	must(t, "verify on B", b.verify(s.str("access")), http.StatusOK)
	must(t, "sign out on A", a.do("DELETE", "/v1/auth/sign_out", "", bearer(s.str("access"))...), http.StatusOK)
	delays := waitRejected(t, []*node{b}, s.str("access"), time.Now(), revocationBound)
	t.Logf("after the restore: sign-out on A → 401 on B after %v", delays["B"])

	l.stop()
	l.report(t)
	l.checkAcknowledged(t)
	for _, n := range nodes {
		for _, tok := range []string{revoked.str("access"), isolated.str("access")} {
			if r := n.verify(tok); r.status != http.StatusUnauthorized {
				t.Errorf("verify on %s after the restore of a session signed out before: got %v, want 401", n.name, r)
			}
		}
	}
}

// TestFaultPostgresFreeze: PostgreSQL stops answering node B without
// closing anything (a hung server, a partition that drops packets), the
// fault a node can only notice by a timeout. B must stop trusting its cache
// within the change feed's bound (silence for 250 ms, then a ping that does
// not answer within 500 ms), answer every request with a 503 within its
// request deadline rather than hang, and catch up when the database is back.
func TestFaultPostgresFreeze(t *testing.T) {
	serverURL := requireCluster(t)
	db := newTestDB(t, serverURL)
	pb := authtest.StartProxy(t, db.target(t))
	a := startNodes(t, []string{"A"}, db.url)[0]
	b := startNodes(t, []string{"B"}, db.via(pb.Addr))[0]
	feeds := db.waitListeners(t, 2, nil, 10*time.Second)

	email := randomEmail("freeze")
	live := must(t, "register on A", a.register(email), http.StatusCreated)
	revoked := must(t, "sign in on A", a.signIn(email, clusterPassword), http.StatusOK)
	unseen := must(t, "sign in on A", a.signIn(email, clusterPassword), http.StatusOK) // never used on B
	for _, s := range []reply{live, revoked} {
		must(t, "verify on B", b.verify(s.str("access")), http.StatusOK)
	}

	pb.Freeze()
	must(t, "sign out on A", a.do("DELETE", "/v1/auth/sign_out", "", bearer(revoked.str("access"))...), http.StatusOK)
	signedOut := time.Now()

	// Whatever needs the database on B gets a 503 within --hash-wait (1s)
	// plus the request's store budget, never a hang.
	const answerWithin = time.Second + storeBudget + time.Second
	var wg sync.WaitGroup
	for what, call := range map[string]func() reply{
		"sign in":             func() reply { return b.signIn(email, clusterPassword) },
		"register":            func() reply { return b.register(randomEmail("freeze")) },
		"refresh":             func() reply { return b.refresh(unseen.str("refresh")) },
		"GET /readyz":         func() reply { return b.do("GET", "/readyz", "") },
		"GET /v1/auth/me":     func() reply { return b.do("GET", "/v1/auth/me", "", bearer(unseen.str("access"))...) },
		"verify (not cached)": func() reply { return b.verify(unseen.str("access")) },
	} {
		wg.Go(func() {
			r := call()
			if r.err != nil || r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
				t.Errorf("%s on B with PostgreSQL frozen: got %v (Retry-After %q), want 503 with Retry-After", what, r, r.header.Get("Retry-After"))
			} else if r.took > answerWithin {
				t.Errorf("%s on B with PostgreSQL frozen: 503 after %v, want it within %v", what, r.took, answerWithin)
			}
		})
	}

	// B cannot hear the sign-out. It may go on accepting the token until
	// it notices its feed is silent (the feed's bound, 750 ms; with slack
	// for a loaded machine, the 1 s of the contract), and never once it has.
	const staleBound = time.Second
	var lastOK time.Duration
	refused := false
	for time.Since(signedOut) < staleBound+time.Second {
		r := b.verify(revoked.str("access"))
		switch {
		case r.err == nil && r.status == http.StatusOK && !refused:
			lastOK = time.Since(signedOut)
		case r.err == nil && r.status == http.StatusServiceUnavailable:
			refused = true
		default:
			t.Fatalf("verify on B, frozen, of a session signed out on A %v before: got %v (after a 503: %t), want 200 then 503", time.Since(signedOut), r, refused)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("B, frozen, accepted a session signed out on A for %v (last 200), then 503", lastOK.Round(time.Millisecond))
	if lastOK > staleBound {
		t.Errorf("B, frozen, accepted a session signed out on A until %v after, want no 200 after %v", lastOK, staleBound)
	}
	wg.Wait()
	must(t, "verify on A while B's database is frozen", a.verify(live.str("access")), http.StatusOK)

	pb.Thaw()
	thawed := time.Now()
	waitReady(t, b, http.StatusOK, 10*time.Second)
	db.waitListeners(t, 1, feeds, 10*time.Second)
	t.Logf("B ready and listening again %v after PostgreSQL answered again", time.Since(thawed).Round(time.Millisecond))
	if r := waitNot(t, b, revoked.str("access"), http.StatusServiceUnavailable, 5*time.Second); r.status != http.StatusUnauthorized {
		t.Errorf("verify on B, back, of a session signed out on A while B was frozen: got %v, want 401", r)
	}
	must(t, "verify on B, back, of a live session", b.verify(live.str("access")), http.StatusOK)
}

// TestFaultRedisCut cuts the nodes off the Redis that holds their rate-limit
// counts: what needs a count (sign-in, registration, refresh) fails closed
// with 503, what does not (verifying a token, signing out) goes on, and
// sign-in works again once Redis is back.
func TestFaultRedisCut(t *testing.T) {
	serverURL := requireCluster(t)
	redisURL, redisAddr := redisDB(t, 8)
	proxy := authtest.StartProxy(t, redisAddr)
	viaProxy, _ := url.Parse(redisURL)
	viaProxy.Host = proxy.Addr
	db := newTestDB(t, serverURL)
	nodes := startNodes(t, []string{"A", "B"}, db.url, "--redis", viaProxy.String())
	a, b := nodes[0], nodes[1]
	db.waitListeners(t, len(nodes), nil, 10*time.Second)

	email := randomEmail("redis")
	live := must(t, "register on A", a.register(email), http.StatusCreated)
	other := must(t, "sign in on B", b.signIn(email, clusterPassword), http.StatusOK)
	for _, n := range nodes {
		must(t, "verify on "+n.name, n.verify(other.str("access")), http.StatusOK)
	}

	// Verifying never needs Redis: a steady load of it gets only 200s.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var verified atomic.Int64
	for _, n := range nodes {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				for _, r := range []reply{n.verify(live.str("access")), n.do("GET", "/v1/auth/me", "", bearer(live.str("access"))...)} {
					if r.err != nil || r.status != http.StatusOK {
						t.Errorf("verify or /me on %s with Redis cut off or back: got %v, want 200", n.name, r)
					}
				}
				verified.Add(2)
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()

	time.Sleep(300 * time.Millisecond)
	proxy.Cut()
	for _, n := range nodes {
		for what, r := range map[string]reply{
			"sign in":  n.signIn(email, clusterPassword),
			"register": n.register(randomEmail("redis-cut")),
			"refresh":  n.refresh(live.str("refresh")),
		} {
			if r.err != nil || r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
				t.Errorf("%s on %s with Redis cut off: got %v (Retry-After %q), want 503 with Retry-After", what, n.name, r, r.header.Get("Retry-After"))
			} else if r.took > 3*time.Second {
				t.Errorf("%s on %s with Redis cut off: 503 after %v, want it within 3s", what, n.name, r.took)
			}
		}
	}
	// Revocation does not go through Redis either.
	must(t, "sign out on A with Redis cut off", a.do("DELETE", "/v1/auth/sign_out", "", bearer(other.str("access"))...), http.StatusOK)
	delays := waitRejected(t, []*node{b}, other.str("access"), time.Now(), revocationBound)
	t.Logf("with Redis cut off: sign-out on A → 401 on B after %v", delays["B"])
	time.Sleep(500 * time.Millisecond)

	proxy.Restore(t)
	restored := time.Now()
	for _, n := range nodes {
		for {
			r := n.signIn(email, clusterPassword)
			if r.err == nil && r.status == http.StatusOK {
				t.Logf("node %s: sign-in 200 again %v after Redis came back", n.name, time.Since(restored).Round(time.Millisecond))
				break
			}
			if r.err != nil || r.status != http.StatusServiceUnavailable || time.Since(restored) > 5*time.Second {
				t.Fatalf("sign in on %s %v after Redis came back: got %v, want 200 (503 for a moment at most)", n.name, time.Since(restored), r)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	must(t, "refresh on B after Redis came back", b.refresh(live.str("refresh")), http.StatusOK)
	t.Logf("%d verify and /me answers under load, all 200", verified.Load())
}

// fromRandomIP is an X-Forwarded-For header naming a random private
// address, for nodes that trust loopback as a proxy: each request gets a
// per-IP budget of its own.
func fromRandomIP() []string {
	return []string{"X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", rand.IntN(256), rand.IntN(256), 1+rand.IntN(254))}
}

// waitStatus polls GET /v1/auth/verify with access on n until it answers
// want, and returns that answer; it fails t after within.
func waitStatus(t *testing.T, n *node, access string, want int, within time.Duration) reply {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		r := n.verify(access)
		if r.err == nil && r.status == want {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("verify on %s: got %v after %v, want %d", n.name, r, within, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitNot polls GET /v1/auth/verify with access on n until it answers
// something other than status, and returns that answer; it fails t after
// within.
func waitNot(t *testing.T, n *node, access string, status int, within time.Duration) reply {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		r := n.verify(access)
		if r.err == nil && r.status != status {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("verify on %s: got %v after %v, want anything but %d", n.name, r, within, status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitReady polls GET /readyz on n until it answers want.
func waitReady(t *testing.T, n *node, want int, within time.Duration) reply {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		r := n.do("GET", "/readyz", "")
		if r.err == nil && r.status == want {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /readyz on %s: got %v after %v, want %d", n.name, r, within, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// load is a steady mix of requests from a few workers: verify and /me of a
// live session, verify of a revoked one, a refresh chain per worker,
// registrations and sign-ins of the users registered so far. It checks
// every answer as it comes, tallies them by phase, and remembers what was
// acknowledged.
type load struct {
	t       *testing.T
	nodes   []*node
	live    string
	revoked string
	phase   atomic.Pointer[string]
	stopped chan struct{}
	stopper sync.Once
	wg      sync.WaitGroup

	mu         sync.Mutex
	phases     []string                  // in the order they began
	tally      map[string]map[string]int // phase → "op status" → count
	slowest    map[string]time.Duration  // phase → longest answer
	registered []string                  // emails whose registration got 201
	refresh    []string                  // each worker's newest refresh token
}

// loadWorkers and loadPause keep the load modest on a 2-core machine: a
// few dozen requests a second, a third of them hashing a password.
const (
	loadWorkers = 3
	loadPause   = 30 * time.Millisecond
)

func startLoad(t *testing.T, nodes []*node, live, revoked string) *load {
	t.Helper()
	l := &load{t: t, nodes: nodes, live: live, revoked: revoked, stopped: make(chan struct{}),
		tally: make(map[string]map[string]int), slowest: make(map[string]time.Duration)}
	l.setPhase("starting")
	for range loadWorkers {
		r := must(t, "register a load worker", nodes[0].register(randomEmail("worker"), fromRandomIP()...), http.StatusCreated)
		l.refresh = append(l.refresh, r.str("refresh"))
	}
	for w := range loadWorkers {
		l.wg.Go(func() { l.work(w) })
	}
	// Before the nodes stop (cleanups run last-in first-out), also when
	// the test ends early.
	t.Cleanup(l.stop)
	return l
}

func (l *load) setPhase(p string) { l.phase.Store(&p) }

// run names the current phase and lets the load go on for d.
func (l *load) run(phase string, d time.Duration) {
	l.setPhase(phase)
	time.Sleep(d)
}

// stop ends the load and waits for the workers. Idempotent.
func (l *load) stop() {
	l.stopper.Do(func() { close(l.stopped) })
	l.wg.Wait()
}

func (l *load) work(w int) {
	for i := w; ; i++ {
		select {
		case <-l.stopped:
			return
		case <-time.After(loadPause):
		}
		n := l.nodes[i%len(l.nodes)]
		switch i % 6 {
		case 0:
			l.check("verify", n.verify(l.live), http.StatusOK)
		case 1:
			l.check("me", n.do("GET", "/v1/auth/me", "", bearer(l.live)...), http.StatusOK)
		case 2:
			// 200 here is the one unforgivable answer: a revoked session back.
			l.check("verify-revoked", n.verify(l.revoked), http.StatusUnauthorized)
		case 3:
			l.mu.Lock()
			tok := l.refresh[w]
			l.mu.Unlock()
			if r := l.check("refresh", n.refresh(tok, fromRandomIP()...), http.StatusOK); r.status == http.StatusOK {
				l.mu.Lock()
				l.refresh[w] = r.str("refresh")
				l.mu.Unlock()
			}
		case 4:
			email := randomEmail("load")
			if r := l.check("register", n.register(email, fromRandomIP()...), http.StatusCreated); r.status == http.StatusCreated {
				l.mu.Lock()
				l.registered = append(l.registered, email)
				l.mu.Unlock()
			}
		case 5:
			l.mu.Lock()
			var email string
			if len(l.registered) > 0 {
				email = l.registered[rand.IntN(len(l.registered))]
			}
			l.mu.Unlock()
			if email != "" {
				l.check("sign-in", n.signIn(email, clusterPassword, fromRandomIP()...), http.StatusOK)
			}
		}
	}
}

// check accepts r if it has status ok, or is a 503 with Retry-After, and
// tallies it; anything else (a 500, another refusal, no answer) fails the
// test.
func (l *load) check(op string, r reply, ok int) reply {
	phase := *l.phase.Load()
	status := fmt.Sprint(r.status)
	switch {
	case r.err != nil:
		status = "no answer"
		l.t.Errorf("%s during %q: %v", op, phase, r.err)
	case r.status == http.StatusServiceUnavailable && r.header.Get("Retry-After") == "":
		l.t.Errorf("%s during %q: 503 without Retry-After", op, phase)
	case r.status != ok && r.status != http.StatusServiceUnavailable:
		l.t.Errorf("%s during %q: got %v, want %d or 503", op, phase, r, ok)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tally[phase] == nil {
		l.tally[phase] = make(map[string]int)
		l.phases = append(l.phases, phase)
	}
	l.tally[phase][op+" "+status]++
	l.slowest[phase] = max(l.slowest[phase], r.took)
	return r
}

// report logs the tally of each phase.
func (l *load) report(t *testing.T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, phase := range l.phases {
		var parts []string
		total := 0
		for _, k := range slices.Sorted(maps.Keys(l.tally[phase])) {
			parts = append(parts, fmt.Sprintf("%s×%d", k, l.tally[phase][k]))
			total += l.tally[phase][k]
		}
		t.Logf("load during %q: %d answers, slowest %v: %s", phase, total, l.slowest[phase].Round(time.Millisecond), strings.Join(parts, ", "))
	}
}

// checkAcknowledged: every user whose registration got 201 signs in, and
// every worker's newest refresh token (its last 200) still refreshes.
func (l *load) checkAcknowledged(t *testing.T) {
	t.Helper()
	for i, email := range l.registered {
		if r := l.nodes[i%len(l.nodes)].signIn(email, clusterPassword, fromRandomIP()...); r.status != http.StatusOK {
			t.Errorf("sign in of %s, registered with a 201 under load: got %v, want 200", email, r)
		}
	}
	for w, tok := range l.refresh {
		if r := l.nodes[w%len(l.nodes)].refresh(tok, fromRandomIP()...); r.status != http.StatusOK {
			t.Errorf("refresh with worker %d's newest refresh token: got %v, want 200", w, r)
		}
	}
	t.Logf("%d users registered under load all sign in; %d refresh chains intact", len(l.registered), len(l.refresh))
}
