package auth_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authtest"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/sqlite"
	"github.com/gatehouse/gatehouse/internal/token"
)

// t0 has sub-second microseconds, so truncation to whole seconds (the exp
// claim) and to microseconds (the stores) are both visible.
var t0 = time.Date(2025, time.March, 14, 9, 26, 53, 589793000, time.UTC)

const testPassword = "plum-kettle-orbit-42"

// testKey returns the signing key every node of a test shares.
func testKey() []byte { return []byte("gatehouse-test-signing-key-0123456789") }

// tinyParams keep argon2id cheap: the tests are about the service, not the
// hash.
var tinyParams = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// env is one test's world: a fresh SQLite store, a clock that only moves
// when told, an audit log, and a Service ("node") on top. More nodes on the
// same store and key come from newNode.
type env struct {
	svc    *auth.Service
	store  *sqlite.Store
	clock  *authtest.Clock
	events *authtest.EventLog
	opts   []func(*auth.Config)
}

// newEnv builds an env; opts adjust the Config of every node it makes.
func newEnv(tb testing.TB, opts ...func(*auth.Config)) *env {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "gatehouse.db")
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		tb.Fatalf("sqlite.Open(%q) = %v", path, err)
	}
	tb.Cleanup(func() {
		if err := st.Close(); err != nil {
			tb.Errorf("Close() = %v", err)
		}
	})
	e := &env{store: st, clock: authtest.NewClock(t0), events: &authtest.EventLog{}, opts: opts}
	e.svc = e.newNode(tb)
	return e
}

// newNode builds another Service sharing e's store, key and clock, as a
// second server of the same deployment would.
func (e *env) newNode(tb testing.TB, opts ...func(*auth.Config)) *auth.Service {
	tb.Helper()
	cfg := auth.Config{
		Store:       e.store,
		Key:         testKey(),
		Hasher:      password.NewHasher(tinyParams),
		HashLimiter: password.NewLimiter(4, 30*time.Second),
		Now:         e.clock.Now,
		OnEvent:     e.events.Add,
	}
	for _, o := range append(slices.Clone(e.opts), opts...) {
		o(&cfg)
	}
	svc, err := auth.NewService(cfg)
	if err != nil {
		tb.Fatalf("NewService() = %v", err)
	}
	return svc
}

var testClient = auth.Client{IP: "203.0.113.7", UserAgent: "gatehouse-test/1.0"}

func (e *env) register(tb testing.TB, email string) *auth.Grant {
	tb.Helper()
	g, err := e.svc.Register(context.Background(), auth.Registration{
		Email: email, Password: testPassword, PasswordConfirmation: testPassword, Client: testClient,
	})
	if err != nil {
		tb.Fatalf("Register(%q) = %v", email, err)
	}
	return g
}

func (e *env) signIn(tb testing.TB, email, pw string) *auth.Grant {
	tb.Helper()
	g, err := e.svc.SignIn(context.Background(), auth.Credentials{Email: email, Password: pw, Client: testClient})
	if err != nil {
		tb.Fatalf("SignIn(%q) = %v", email, err)
	}
	return g
}

func (e *env) refresh(tb testing.TB, r auth.RefreshRequest) *auth.Grant {
	tb.Helper()
	g, err := e.svc.Refresh(context.Background(), r)
	if err != nil {
		tb.Fatalf("Refresh(%+v) = %v", r, err)
	}
	return g
}

// mustAuth authenticates tok on svc and fails the test if that fails.
func mustAuth(tb testing.TB, svc *auth.Service, tok string) *auth.Principal {
	tb.Helper()
	p, err := svc.Authenticate(context.Background(), tok)
	if err != nil {
		tb.Fatalf("Authenticate(%.20s…) = %v, want success", tok, err)
	}
	return p
}

// checkAuth checks what Authenticate says about tok on svc: want nil for
// success, or the sentinel it must match.
func checkAuth(tb testing.TB, svc *auth.Service, name, tok string, want error) {
	tb.Helper()
	_, err := svc.Authenticate(context.Background(), tok)
	checkErr(tb, "Authenticate("+name+")", err, want)
}

// checkErr reports err unless it matches want (nil means no error).
func checkErr(tb testing.TB, call string, err, want error) {
	tb.Helper()
	switch {
	case want == nil && err != nil:
		tb.Errorf("%s = %v, want success", call, err)
	case want != nil && !errors.Is(err, want):
		tb.Errorf("%s = %v, want %v", call, err, want)
	}
}

// claims verifies an access token with the test key, expired or not.
func claims(tb testing.TB, tok string) token.Claims {
	tb.Helper()
	iss, err := token.NewIssuer(testKey(), 24*time.Hour, 0)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := iss.Verify(tok, t0)
	if err != nil && !errors.Is(err, token.ErrExpired) {
		tb.Fatalf("Verify(%.20s…) = %v", tok, err)
	}
	return c
}

// forge signs arbitrary claims with key, as only someone holding the key
// (another node, the Rails app during a migration) could.
func forge(tb testing.TB, key []byte, c token.Claims) string {
	tb.Helper()
	iss, err := token.NewIssuer(key, 24*time.Hour, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tok, err := iss.Issue(c)
	if err != nil {
		tb.Fatalf("Issue(%+v) = %v", c, err)
	}
	return tok
}

// tamper changes the character at i (negative: from the end) to another
// one of the same base64url alphabet.
func tamper(s string, i int) string {
	if i < 0 {
		i += len(s)
	}
	b := []byte(s)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}
