package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authtest"
	"github.com/gatehouse/gatehouse/internal/httpapi"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/passkey"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/postgres"
	"github.com/gatehouse/gatehouse/internal/sqlite"
)

// epoch is where every test clock starts: whole seconds, so that exp
// claims and cookie Max-Age values are exact numbers.
var epoch = time.Date(2026, time.March, 2, 9, 30, 0, 0, time.UTC)

// The defaults of API.md; the harness leaves them in place.
const (
	accessTTL    = time.Hour
	sessionTTL   = 168 * time.Hour
	refreshGrace = 10 * time.Second
)

// testKey signs the access tokens of every test server (32 bytes).
var testKey = []byte("gatehouse-httpapi-test-signing-k")

// fastParams make argon2id nearly free: the tests exercise the HTTP layer,
// not the cost of hashing.
var fastParams = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// serverOptions adjust the real stack for a test; the zero value is the
// default stack.
type serverOptions struct {
	hasher         *password.Hasher  // default: fastParams
	limiter        *password.Limiter // default: 4 slots, 1 s wait
	corsOrigins    []string
	corsHeaders    []string
	trustedProxies []netip.Prefix
	ipv6Prefix     int
	ready          func(context.Context) error // default: the store's
	// The cookie settings of httpapi.Config, inverted so that the zero
	// value is the production default.
	insecureCookie   bool
	cookieHostPrefix bool
	cookieSameSite   http.SameSite
	// limits, if set, turn rate limits and back-off on (an in-memory
	// counter on the test clock); they are off otherwise.
	limits *auth.Limits
	// streamHeartbeat is the revocation stream's; 0 is the default.
	streamHeartbeat time.Duration
	// requireConfirmed is auth.Config.RequireConfirmed.
	requireConfirmed bool
	// jwks, if set, serves GET /.well-known/jwks.json.
	jwks func() []byte
	// onEvent, if set, gets the audit trail too.
	onEvent func(auth.Event)
	// passkeys turns the passkey endpoints on, for pages at passkeyOrigin.
	passkeys bool
}

// testServer is the real API (sqlite store, argon2id, HS256 tokens) behind
// httptest, with a clock the test moves and a buffer holding every log line.
type testServer struct {
	url    string
	clock  *authtest.Clock
	store  auth.Store
	svc    *auth.Service
	logs   *syncBuffer
	client *http.Client
}

// openStore opens the store the scenarios run on: SQLite in a temporary
// folder, or, with GATEHOUSE_TEST_STORE=postgres, a fresh PostgreSQL
// database (CI runs the suite both ways).
func openStore(t *testing.T) auth.Store {
	t.Helper()
	var store auth.Store
	var err error
	switch backend := os.Getenv("GATEHOUSE_TEST_STORE"); backend {
	case "", "sqlite":
		store, err = sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "gatehouse.db"))
	case "postgres":
		store, err = postgres.Open(t.Context(), authtest.PostgresDatabase(t))
	default:
		t.Fatalf("GATEHOUSE_TEST_STORE=%q: want sqlite or postgres", backend)
	}
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

func newServer(t *testing.T, opt serverOptions) *testServer {
	t.Helper()
	store := openStore(t)
	if opt.hasher == nil {
		opt.hasher = password.NewHasher(fastParams)
	}
	if opt.limiter == nil {
		opt.limiter = password.NewLimiter(4, time.Second)
	}
	if opt.ready == nil {
		opt.ready = store.Ready
	}
	clock := authtest.NewClock(epoch)
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var counter auth.Counter
	var limits auth.Limits
	if opt.limits != nil {
		counter, limits = auth.NewMemoryCounter(clock.Now, 1000), *opt.limits
	}
	svc, err := auth.NewService(auth.Config{
		Store:            store,
		Key:              testKey,
		Hasher:           opt.hasher,
		HashLimiter:      opt.limiter,
		Now:              clock.Now,
		Counter:          counter,
		Limits:           limits,
		Logger:           log,
		RequireConfirmed: opt.requireConfirmed,
		// The audit trail as cmd/gatehouse logs it: every field of every event.
		OnEvent: func(e auth.Event) {
			log.Info("audit", "type", e.Type, "user_id", e.UserID, "session_id", e.SessionID, "ip", e.IP, "reason", e.Reason)
			if opt.onEvent != nil {
				opt.onEvent(e)
			}
		},
	})
	if err != nil {
		t.Fatalf("auth.NewService: %v", err)
	}
	// Second factors as cmd wires them, on the node's clock.
	mfaSvc, err := mfa.New(mfa.Config{Auth: svc, Store: store.(mfa.Store), Key: testKey, Now: clock.Now})
	if err != nil {
		t.Fatalf("mfa.New: %v", err)
	}
	svc.AddSecondFactor(mfaSvc.TOTPFactor())
	svc.AddSecondFactor(mfaSvc.RecoveryFactor())
	var pk *passkey.Service
	if opt.passkeys {
		if pk, err = passkey.New(svc, store.(passkey.Store), passkey.Config{RPID: "example.com", Origins: []string{passkeyOrigin}}); err != nil {
			t.Fatalf("passkey.New: %v", err)
		}
	}
	srv := httptest.NewServer(httpapi.NewServer(httpapi.Config{
		Service:          svc,
		MFA:              mfaSvc,
		Passkeys:         pk,
		Logger:           log,
		CookieSecure:     !opt.insecureCookie,
		CookieHostPrefix: opt.cookieHostPrefix,
		CookieSameSite:   opt.cookieSameSite,
		CORSOrigins:      opt.corsOrigins,
		CORSHeaders:      opt.corsHeaders,
		TrustedProxies:   opt.trustedProxies,
		IPv6Prefix:       opt.ipv6Prefix,
		Ready:            opt.ready,
		Now:              clock.Now,
		StreamHeartbeat:  opt.streamHeartbeat,
		JWKS:             opt.jwks,
		JWKSMaxAge:       5 * time.Minute,
	}))
	t.Cleanup(srv.Close)
	return &testServer{
		url:   srv.URL,
		clock: clock,
		store: store,
		svc:   svc,
		logs:  logs,
		client: &http.Client{
			Transport: srv.Client().Transport,
			// Redirects are answers to check, not to follow.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// request is one HTTP request of a scenario.
type request struct {
	method string
	path   string
	// header is sent with the names exactly as written (so "x-csrf-token"
	// goes out in lower case). A body defaults to Content-Type
	// application/json; an empty value removes a header.
	header map[string]string
	cookie string // value of the jwt_access cookie; "" sends none
	body   string
	// chunked sends the body without Content-Length.
	chunked bool
	// unavailableOK marks a request whose point is a 503.
	unavailableOK bool
}

func (r request) call() string { return r.method + " " + r.path }

// response is what came back, with the call that produced it for messages.
type response struct {
	call   string
	status int
	header http.Header
	body   string
}

// do performs req. Whatever the scenario, it fails the test on any 5xx
// other than an intended 503, on a response without the headers API.md
// puts on every response, and on an exchange that openapi.json does not
// describe. It never calls t.Fatal, so it is safe from
// goroutines; a transport error leaves status 0.
func (ts *testServer) do(t *testing.T, req request) response {
	t.Helper()
	var body io.Reader = strings.NewReader(req.body)
	if req.chunked {
		body = struct{ io.Reader }{body} // hides the length from net/http
	}
	hr, err := http.NewRequestWithContext(t.Context(), req.method, ts.url+req.path, body)
	if err != nil {
		t.Errorf("%s: new request: %v", req.call(), err)
		return response{call: req.call()}
	}
	if req.chunked {
		hr.ContentLength = -1
	}
	if req.body != "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	for name, v := range req.header {
		for have := range hr.Header {
			if strings.EqualFold(have, name) {
				delete(hr.Header, have)
			}
		}
		if v != "" {
			hr.Header[name] = []string{v}
		}
	}
	if req.cookie != "" {
		hr.Header.Set("Cookie", "jwt_access="+req.cookie)
	}
	hresp, err := ts.client.Do(hr)
	if err != nil {
		t.Errorf("%s: %v", req.call(), err)
		return response{call: req.call()}
	}
	defer hresp.Body.Close()
	b, err := io.ReadAll(hresp.Body)
	if err != nil {
		t.Errorf("%s: read body: %v", req.call(), err)
	}
	resp := response{call: req.call(), status: hresp.StatusCode, header: hresp.Header, body: string(b)}
	checkSpec(t, hr, req.body, resp)
	if resp.status >= 500 && !(resp.status == http.StatusServiceUnavailable && req.unavailableOK) {
		t.Errorf("%s: got status %d, want no 5xx; body %s", resp.call, resp.status, resp.body)
	}
	checkCommonHeaders(t, resp)
	return resp
}

// checkCommonHeaders checks what API.md puts on every response.
func checkCommonHeaders(t *testing.T, resp response) {
	t.Helper()
	want := map[string]string{
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
		"Content-Type":           "application/json; charset=utf-8",
	}
	if resp.status == http.StatusNoContent {
		delete(want, "Content-Type")
	}
	if strings.HasSuffix(resp.call, " /.well-known/jwks.json") && resp.status == http.StatusOK {
		// The one cacheable answer (API.md, Keys): TestJWKS checks its max-age.
		delete(want, "Cache-Control")
	}
	for name, v := range want {
		if got := resp.header.Get(name); got != v {
			t.Errorf("%s: got %s %q, want %q", resp.call, name, got, v)
		}
	}
}

// setCookie returns the response's jwt_access Set-Cookie line, or "".
func (r response) setCookie() string {
	var lines []string
	for _, line := range r.header.Values("Set-Cookie") {
		if strings.HasPrefix(line, "jwt_access=") {
			lines = append(lines, line)
		}
	}
	if len(lines) != 1 {
		return strings.Join(lines, "\n")
	}
	return lines[0]
}

// cookie returns the parsed jwt_access cookie of the response.
func (r response) cookie() (*http.Cookie, bool) {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "jwt_access" {
			return c, true
		}
	}
	return nil, false
}

// errorBody is the API's error body.
type errorBody struct {
	Error   string              `json:"error"`
	Code    string              `json:"code"`
	Details map[string][]string `json:"details"`
}

// wantError checks that resp is the error status with code and returns its
// body.
func wantError(t *testing.T, resp response, status int, code string) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal([]byte(resp.body), &e); err != nil {
		t.Errorf("%s: error body %q: %v", resp.call, resp.body, err)
	}
	if resp.status != status || e.Code != code {
		t.Errorf("%s: got %d %q, want %d %q; body %s", resp.call, resp.status, e.Code, status, code, resp.body)
	}
	return e
}

// wantBody checks the status and the exact body of resp.
func wantBody(t *testing.T, resp response, status int, body string) {
	t.Helper()
	if resp.status != status || resp.body != body {
		t.Errorf("%s: got %d %s, want %d %s", resp.call, resp.status, resp.body, status, body)
	}
}

// decode unmarshals a 200-class body into T, failing the test otherwise.
func decode[T any](t *testing.T, resp response) T {
	t.Helper()
	var v T
	if resp.status >= 300 {
		t.Fatalf("%s: got status %d, want success; body %s", resp.call, resp.status, resp.body)
	}
	if err := json.Unmarshal([]byte(resp.body), &v); err != nil {
		t.Fatalf("%s: body %q: %v", resp.call, resp.body, err)
	}
	return v
}

// syncBuffer is a bytes.Buffer the server's goroutines may log into while
// the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
