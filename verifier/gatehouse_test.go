package verifier_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/httpapi"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/sqlite"
	"github.com/gatehouse/gatehouse/internal/token"
	"github.com/gatehouse/gatehouse/verifier"
)

// rootKey is Gatehouse's root secret in these tests: its implicit HS256
// key, which the downstream services share.
var rootKey = []byte("gatehouse-verifier-test-root-key")

// heartbeat is the test Gatehouse's stream heartbeat; downstream
// services fail closed after maxSilence.
const (
	heartbeat  = 100 * time.Millisecond
	maxSilence = time.Second
)

// newService builds Gatehouse's domain service on the SQLite database at
// db, as cmd/gatehouse does (with cheap password hashing).
func newService(t testing.TB, db string, tokens *token.Issuer) (*auth.Service, auth.Store) {
	t.Helper()
	store, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatalf("open %s: %v", db, err)
	}
	svc, err := auth.NewService(auth.Config{
		Store:              store,
		Key:                rootKey,
		Tokens:             tokens,
		Hasher:             password.NewHasher(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}),
		HashLimiter:        password.NewLimiter(4, 5*time.Second),
		MaxSessionsPerUser: 100_000,
	})
	if err != nil {
		t.Fatalf("auth.NewService: %v", err)
	}
	return svc, store
}

// gatehouse is a running Gatehouse: the real API over a SQLite file on a
// fixed address, so it can be stopped and started again where its
// followers look for it.
type gatehouse struct {
	db, addr string
	tokens   *token.Issuer // nil: HS256 with rootKey
	svc      *auth.Service
	store    auth.Store
	srv      *http.Server
}

func startGatehouse(t testing.TB, db, addr string, tokens *token.Issuer) *gatehouse {
	t.Helper()
	svc, store := newService(t, db, tokens)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	g := &gatehouse{db: db, addr: ln.Addr().String(), tokens: tokens, svc: svc, store: store}
	cfg := httpapi.Config{Service: svc, StreamHeartbeat: heartbeat}
	if tokens != nil {
		cfg.JWKS = tokens.JWKS
	}
	g.srv = &http.Server{Handler: httpapi.NewServer(cfg)}
	go g.srv.Serve(ln)
	t.Cleanup(g.stop)
	return g
}

// stop ends the process's service abruptly: listener and every
// connection, streams included, closed at once.
func (g *gatehouse) stop() {
	g.srv.Close()
	g.store.Close()
}

func (g *gatehouse) url() string { return "http://" + g.addr }

// newGatehouse starts Gatehouse on a fresh database with a service token.
// tokens nil is the default HS256 with rootKey.
func newGatehouse(t testing.TB, tokens *token.Issuer) (*gatehouse, string) {
	t.Helper()
	g := startGatehouse(t, filepath.Join(t.TempDir(), "gatehouse.db"), "127.0.0.1:0", tokens)
	secret, _, err := g.svc.CreateServiceToken(context.Background(), "downstream")
	if err != nil {
		t.Fatalf("CreateServiceToken: %v", err)
	}
	return g, secret
}

// call makes one JSON request to Gatehouse and decodes the answer into out.
func (g *gatehouse) call(t testing.TB, method, path, bearer string, body, out any) int {
	t.Helper()
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	req, _ := http.NewRequest(method, g.url()+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Auth-Transport", "token")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// tokens is a token-transport grant.
type tokens struct {
	Access  string `json:"access"`
	Refresh string `json:"refresh"`
}

// signIns registers email and signs it in n times: n live sessions.
func (g *gatehouse) signIns(t testing.TB, email string, n int) []tokens {
	t.Helper()
	const pw = "correct horse battery"
	if st := g.call(t, "POST", "/v1/auth", "", map[string]string{"email": email, "password": pw, "password_confirmation": pw}, nil); st != http.StatusCreated {
		t.Fatalf("register %s: status %d", email, st)
	}
	out := make([]tokens, n)
	for i := range out {
		if st := g.call(t, "POST", "/v1/auth/sign_in", "", map[string]string{"email": email, "password": pw}, &out[i]); st != http.StatusOK {
			t.Fatalf("sign in %s: status %d", email, st)
		}
	}
	return out
}

// downstream is a service using the verifier: its middleware in front of
// a handler that reports the caller.
type downstream struct {
	v   *verifier.Verifier
	srv *http.Server
	url string
}

func startDownstream(t testing.TB, gatehouseURL, serviceToken string) *downstream {
	t.Helper()
	return startDownstreamWith(t, verifier.Config{URL: gatehouseURL, ServiceToken: serviceToken, HS256Key: rootKey, MaxSilence: maxSilence})
}

func startDownstreamWith(t testing.TB, cfg verifier.Config) *downstream {
	t.Helper()
	v, err := verifier.New(cfg)
	if err != nil {
		t.Fatalf("verifier.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); v.Run(ctx) }()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &downstream{v: v, url: "http://" + ln.Addr().String()}
	d.srv = &http.Server{Handler: v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := verifier.FromContext(r.Context())
		json.NewEncoder(w).Encode(p)
	}))}
	go d.srv.Serve(ln)
	t.Cleanup(func() { d.srv.Close(); cancel(); <-done })
	waitFor(t, "downstream verifier healthy", 5*time.Second, v.Healthy)
	return d
}

// get calls the downstream service with an access token.
func (d *downstream) get(t testing.TB, access string) (int, verifier.Principal) {
	t.Helper()
	req, _ := http.NewRequest("GET", d.url+"/", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("downstream GET: %v", err)
	}
	defer resp.Body.Close()
	var p verifier.Principal
	if resp.StatusCode == http.StatusOK {
		json.NewDecoder(resp.Body).Decode(&p)
	}
	return resp.StatusCode, p
}

func waitFor(t testing.TB, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(time.Millisecond)
	}
}

// revoked reports whether v refuses access as revoked.
func revoked(v *verifier.Verifier, access string) bool {
	_, err := v.Verify(access)
	return errors.Is(err, verifier.ErrRevoked)
}

// callRefresh refreshes with a refresh token (token transport).
func (g *gatehouse) callRefresh(t testing.TB, refresh string, out *tokens) int {
	t.Helper()
	req, _ := http.NewRequest("POST", g.url()+"/v1/auth/refresh", nil)
	req.Header.Set("X-Auth-Transport", "token")
	req.Header.Set("X-Refresh-Token", refresh)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(out)
	return resp.StatusCode
}

// sessionOf reads the session id (ruid) of an access token.
func sessionOf(t testing.TB, access string) string {
	t.Helper()
	parts := strings.Split(access, ".")
	if len(parts) != 3 {
		t.Fatalf("access token %q is not a JWT", access)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		RUID string `json:"ruid"`
	}
	if err != nil || json.Unmarshal(payload, &c) != nil || c.RUID == "" {
		t.Fatalf("access token %q: no ruid", access)
	}
	return c.RUID
}
