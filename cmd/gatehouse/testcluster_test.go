package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/authtest"
)

// Helpers for the multi-node and fault-injection tests (cluster_test.go,
// faults_test.go): real gatehouse processes (this test binary in main mode,
// see TestMain) on a PostgreSQL database of their own, a client that never
// calls t.Fatal (load runs in goroutines), and a TCP proxy that cuts a
// backend off.
//
// They run against GATEHOUSE_TEST_POSTGRES_URL (a role that may create
// databases, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)
// and GATEHOUSE_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0).

const (
	postgresURLEnv = "GATEHOUSE_TEST_POSTGRES_URL"
	redisURLEnv    = "GATEHOUSE_TEST_REDIS_URL"

	// clusterSecret is every node's --secret: nodes must share the key to
	// verify each other's tokens.
	clusterSecret   = "cluster-test-secret-0123456789abcdef"
	clusterPassword = "correct horse battery"

	// revocationBound is the cluster's contract (docs/architecture.md): a
	// revocation on one node is honoured by every other node within this.
	revocationBound = time.Second
)

// requireCluster skips t in -short mode (it starts real processes) and
// returns the PostgreSQL server URL, skipping or failing (in CI) without it.
func requireCluster(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts real server processes")
	}
	return authtest.RequireService(t, postgresURLEnv)
}

// testDB is a database created empty for one test and dropped WITH (FORCE)
// when it ends: a change feed hears only its own test's NOTIFYs (channels
// are per database) and the counters table starts empty.
type testDB struct {
	admin string // the server's URL, for statements about this database
	url   string
	name  string
}

func newTestDB(t *testing.T, serverURL string) *testDB {
	t.Helper()
	dbURL := authtest.PostgresDatabase(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	return &testDB{admin: serverURL, url: dbURL, name: strings.TrimPrefix(u.Path, "/")}
}

// via returns the database's URL with its host:port replaced by addr (a
// proxy's).
func (db *testDB) via(addr string) string {
	u, _ := url.Parse(db.url)
	u.Host = addr
	return u.String()
}

// target is the host:port of the PostgreSQL server.
func (db *testDB) target(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(db.url)
	if err != nil {
		t.Fatal(err)
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "5432")
	}
	return u.Host
}

// listeners returns the server process ids of the change-feed connections
// (application_name gatehouse-listener) to this database that have run
// LISTEN: one per node whose feed is up.
func (db *testDB) listeners(t *testing.T) []int32 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, db.admin)
	if err != nil {
		t.Fatalf("connect to %s: %v", postgresURLEnv, err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT pid FROM pg_stat_activity
		WHERE datname = $1 AND application_name = 'gatehouse-listener'
		AND (query ILIKE 'LISTEN %' OR query = 'SELECT 1')`, db.name)
	if err != nil {
		t.Fatalf("list listeners: %v", err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		t.Fatalf("list listeners: %v", err)
	}
	return pids
}

// waitListeners waits until n change feeds that are not among old are
// listening on db, and returns their process ids. A node trusts its cache
// only while its feed is up, so a test of propagation through the feed
// must first know that it is.
func (db *testDB) waitListeners(t *testing.T, n int, old []int32, within time.Duration) []int32 {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var fresh []int32
		for _, pid := range db.listeners(t) {
			if !slices.Contains(old, pid) {
				fresh = append(fresh, pid)
			}
		}
		if len(fresh) >= n {
			return fresh
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d new change feeds listening after %v, want %d", len(fresh), within, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// redisDB returns the URL of database index on the Redis server of
// GATEHOUSE_TEST_REDIS_URL, and deletes the gatehouse:* keys (the nodes'
// counters) there now and when t ends. Each test that shares counters
// through Redis uses an index of its own.
func redisDB(t *testing.T, index int) (dbURL, addr string) {
	t.Helper()
	opt, err := goredis.ParseURL(authtest.RequireService(t, redisURLEnv))
	if err != nil {
		t.Fatalf("%s: %v", redisURLEnv, err)
	}
	opt.DB = index
	client := goredis.NewClient(opt)
	clean := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// SCAN, not KEYS or FLUSHDB: the server may be shared.
		iter := client.Scan(ctx, 0, "gatehouse:*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("redis: scan gatehouse:* in db %d: %v", index, err)
			return
		}
		if len(keys) > 0 {
			if err := client.Del(ctx, keys...).Err(); err != nil {
				t.Errorf("redis: delete %d keys in db %d: %v", len(keys), index, err)
			}
		}
	}
	clean()
	t.Cleanup(func() { clean(); client.Close() })
	u, _ := url.Parse(authtest.RequireService(t, redisURLEnv))
	u.Path = fmt.Sprintf("/%d", index)
	return u.String(), opt.Addr
}

// node is one running gatehouse process.
type node struct {
	name   string
	base   string
	cmd    *exec.Cmd
	out    *lockedBuffer // stdout: the "listening on" line
	logs   *lockedBuffer // stderr: the JSON log, shown when a test fails
	client *http.Client
}

// startNodes starts one server per name on db, each with the shared
// --secret and plain-HTTP cookies plus flags, and waits until all answer.
// At cleanup each gets SIGTERM, and a data race or panic it reported fails
// the test (the children are race-instrumented under go test -race).
func startNodes(t *testing.T, names []string, db string, flags ...string) []*node {
	t.Helper()
	nodes := make([]*node, len(names))
	for i, name := range names {
		nodes[i] = startNode(t, name, db, flags...)
	}
	for _, n := range nodes {
		n.base = waitForURL(t, n.out)
	}
	return nodes
}

func startNode(t *testing.T, name, db string, flags ...string) *node {
	t.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db, "--secret", clusterSecret,
		"--cookie-secure=false", "--shutdown-timeout=2s"}, flags...)
	n := &node{
		name: name,
		cmd:  exec.Command(os.Args[0], args...),
		out:  &lockedBuffer{},
		logs: &lockedBuffer{},
		client: &http.Client{
			Timeout:   10 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: 16},
		},
	}
	n.cmd.Env = append(serverEnv(), childEnv+"=1")
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.logs
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("start node %s: %v", name, err)
	}
	t.Cleanup(func() { n.stop(t) })
	return n
}

// stop shuts the node down gracefully, so that a race-instrumented child
// gets to report, and checks what it reported.
func (n *node) stop(t *testing.T) {
	n.client.CloseIdleConnections()
	n.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { n.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Errorf("node %s did not stop within 10s of SIGTERM; killed", n.name)
		n.cmd.Process.Kill()
		<-done
	}
	logs := n.logs.String()
	for _, bad := range []string{"WARNING: DATA RACE", "panic:"} {
		if i := strings.Index(logs, bad); i >= 0 {
			t.Errorf("node %s reported %q:\n%s", n.name, bad, logs[i:min(len(logs), i+8000)])
		}
	}
	if t.Failed() {
		t.Logf("node %s log (last 6000 bytes):\n%s", n.name, logs[max(0, len(logs)-6000):])
	}
}

// reply is what a node answered, or err when it did not answer at all.
type reply struct {
	status int
	header http.Header
	body   map[string]any
	took   time.Duration
	err    error
}

func (r reply) code() string {
	s, _ := r.body["code"].(string)
	return s
}

func (r reply) str(key string) string {
	s, _ := r.body[key].(string)
	return s
}

// String is the status and error code, not the body: a failure message
// must not be a page of tokens.
func (r reply) String() string {
	switch {
	case r.err != nil:
		return r.err.Error()
	case r.code() != "":
		return fmt.Sprintf("%d %s", r.status, r.code())
	}
	return fmt.Sprint(r.status)
}

// do sends a token-transport request. headers are name, value pairs. It is
// safe to call from any goroutine: it reports failures in the reply.
func (n *node) do(method, path, body string, headers ...string) reply {
	req, err := http.NewRequest(method, n.base+path, strings.NewReader(body))
	if err != nil {
		return reply{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Auth-Transport", "token")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	start := time.Now()
	resp, err := n.client.Do(req)
	if err != nil {
		return reply{err: fmt.Errorf("%s %s on node %s: %w", method, path, n.name, err), took: time.Since(start)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, took: time.Since(start), err: err}
	json.Unmarshal(raw, &r.body) // "ok" and arrays leave body nil
	return r
}

func bearer(access string) []string { return []string{"Authorization", "Bearer " + access} }

func credentialsJSON(email, password string) string {
	b, _ := json.Marshal(map[string]string{"email": email, "password": password})
	return string(b)
}

func registrationJSON(email, password string) string {
	b, _ := json.Marshal(map[string]string{"email": email, "password": password, "password_confirmation": password})
	return string(b)
}

func (n *node) register(email string, headers ...string) reply {
	return n.do("POST", "/v1/auth", registrationJSON(email, clusterPassword), headers...)
}

func (n *node) signIn(email, password string, headers ...string) reply {
	return n.do("POST", "/v1/auth/sign_in", credentialsJSON(email, password), headers...)
}

func (n *node) verify(access string) reply {
	return n.do("GET", "/v1/auth/verify", "", bearer(access)...)
}

func (n *node) refresh(refreshToken string, headers ...string) reply {
	return n.do("POST", "/v1/auth/refresh", "", append([]string{"X-Refresh-Token", refreshToken}, headers...)...)
}

// must fails t unless r has status want, and returns r.
func must(t *testing.T, what string, r reply, want int) reply {
	t.Helper()
	if r.err != nil || r.status != want {
		t.Fatalf("%s: got %v, want %d", what, r, want)
	}
	return r
}

// randomEmail is unique across runs and tests sharing a database.
func randomEmail(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:]) + "@example.com"
}

// waitRejected polls GET /v1/auth/verify with access on every node, every
// 5 ms, until each answers 401, and returns how long after since each did
// (by node name). A node that answers anything but 200 or 401, or still
// accepts the token after limit, fails t at once.
func waitRejected(t *testing.T, nodes []*node, access string, since time.Time, limit time.Duration) map[string]time.Duration {
	t.Helper()
	var mu sync.Mutex
	delays := make(map[string]time.Duration)
	var failed atomic.Bool
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Go(func() {
			for {
				r := n.verify(access)
				at := time.Since(since)
				switch {
				case r.err == nil && r.status == http.StatusUnauthorized:
					mu.Lock()
					delays[n.name] = at
					mu.Unlock()
					return
				case r.err != nil || r.status != http.StatusOK:
					t.Errorf("verify of a revoked session on node %s after %v: got %v, want 200 then 401", n.name, at, r)
					failed.Store(true)
					return
				case at > limit:
					t.Errorf("verify of a revoked session on node %s: still 200 after %v, want 401 within %v", n.name, at, limit)
					failed.Store(true)
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	if failed.Load() {
		t.FailNow()
	}
	return delays
}

// percentile is the nearest-rank p-th percentile (0 < p <= 100) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}
