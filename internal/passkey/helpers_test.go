package passkey_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authtest"
	"github.com/gatehouse/gatehouse/internal/passkey"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/sqlite"
)

var t0 = time.Date(2025, time.March, 14, 9, 26, 53, 589793000, time.UTC)

const (
	origin      = "https://app.example.com"
	testPass    = "plum-kettle-orbit-42"
	testEmail   = "ada@example.com"
	phishOrigin = "https://app.example.com.evil.test"
)

// env is one test's world: a SQLite store, a clock that moves when told,
// an audit log, and nodes (auth and passkey Services) on top of them.
type env struct {
	store  *sqlite.Store
	clock  *authtest.Clock
	events *events
	// counter, if set, turns the budgets on (default limits).
	counter auth.Counter
	node
}

type node struct {
	auth *auth.Service
	pk   *passkey.Service
}

func newEnv(t *testing.T) *env { return newEnvWith(t, false) }

// newEnvWith builds an env, with the budgets on if limited.
func newEnvWith(t *testing.T, limited bool) *env {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{store: st, clock: authtest.NewClock(t0), events: &events{}}
	if limited {
		e.counter = auth.NewMemoryCounter(e.clock.Now, 1000)
	}
	e.node = e.newNode(t)
	return e
}

// newNode is another server of the same deployment: same store, key and
// clock, its own Services and caches.
func (e *env) newNode(t *testing.T) node {
	t.Helper()
	a, err := auth.NewService(auth.Config{
		Store:       e.store,
		Key:         []byte("gatehouse-test-signing-key-0123456789"),
		Hasher:      password.NewHasher(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}),
		HashLimiter: password.NewLimiter(4, 30*time.Second),
		Now:         e.clock.Now,
		OnEvent:     e.events.add,
		Counter:     e.counter,
	})
	if err != nil {
		t.Fatal(err)
	}
	pk, err := passkey.New(a, e.store, passkey.Config{RPID: "example.com", Origins: []string{origin}})
	if err != nil {
		t.Fatal(err)
	}
	return node{auth: a, pk: pk}
}

// signUp registers a user and returns the principal of its session.
func (n node) signUp(t *testing.T, email string) *auth.Principal {
	t.Helper()
	g, err := n.auth.Register(t.Context(), auth.Registration{Email: email, Password: testPass, PasswordConfirmation: testPass})
	if err != nil {
		t.Fatalf("Register(%s) = %v", email, err)
	}
	return n.principal(t, g)
}

func (n node) principal(t *testing.T, g *auth.Grant) *auth.Principal {
	t.Helper()
	p, err := n.auth.Authenticate(t.Context(), g.AccessToken)
	if err != nil {
		t.Fatalf("Authenticate(grant) = %v", err)
	}
	return p
}

// beginRegistration begins adding a passkey and returns the options as a
// browser receives them.
func (n node) beginRegistration(t *testing.T, p *auth.Principal, name string) []byte {
	t.Helper()
	creation, err := n.pk.BeginRegistration(t.Context(), p, name)
	if err != nil {
		t.Fatalf("BeginRegistration(%q) = %v", name, err)
	}
	return marshal(t, creation)
}

// addPasskey registers a's passkey to p's account.
func (n node) addPasskey(t *testing.T, p *auth.Principal, a *authtest.Authenticator, name string) *passkey.Credential {
	t.Helper()
	cred, err := n.pk.FinishRegistration(t.Context(), p, create(t, a, n.beginRegistration(t, p, name)), auth.Client{})
	if err != nil {
		t.Fatalf("FinishRegistration(%q) = %v", name, err)
	}
	return cred
}

// signInWith signs in with a's passkey alone.
func (n node) signInWith(t *testing.T, a *authtest.Authenticator) (*auth.Grant, error) {
	t.Helper()
	options, err := n.pk.BeginSignIn(t.Context(), auth.Client{})
	if err != nil {
		t.Fatalf("BeginSignIn() = %v", err)
	}
	return n.pk.FinishSignIn(t.Context(), get(t, a, marshal(t, options)), auth.Client{})
}

// beginAssertion begins a ceremony of kind for p and returns the options
// as a browser receives them.
func (n node) beginAssertion(t *testing.T, p *auth.Principal, kind passkey.Kind) []byte {
	t.Helper()
	options, err := n.pk.BeginAssertion(t.Context(), p, kind)
	if err != nil {
		t.Fatalf("BeginAssertion(%s) = %v", kind, err)
	}
	return marshal(t, options)
}

// stepUp proves p's user afresh with a's passkey.
func (n node) stepUp(t *testing.T, p *auth.Principal, a *authtest.Authenticator) {
	t.Helper()
	if err := n.pk.FinishStepUp(t.Context(), p, get(t, a, n.beginAssertion(t, p, passkey.KindStepUp)), auth.Client{}); err != nil {
		t.Fatalf("FinishStepUp() = %v", err)
	}
}

func get(t *testing.T, a *authtest.Authenticator, options []byte) []byte {
	t.Helper()
	body, err := a.Get(options)
	if err != nil {
		t.Fatalf("authenticator Get() = %v", err)
	}
	return body
}

func create(t *testing.T, a *authtest.Authenticator, options []byte) []byte {
	t.Helper()
	body, err := a.Create(options)
	if err != nil {
		t.Fatalf("authenticator Create() = %v", err)
	}
	return body
}

func marshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkCode(t *testing.T, call string, err error, want auth.Code) {
	t.Helper()
	if got := auth.ErrorCode(err); err == nil || got != want {
		t.Errorf("%s = %v, want code %s", call, err, want)
	}
}

func checkIs(t *testing.T, call string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s = %v, want %v", call, err, want)
	}
}

// checkMails checks that n mails of kind are queued for the owner.
func checkMails(t *testing.T, e *env, kind auth.MailKind, n int) {
	t.Helper()
	mails, err := e.auth.Mails(t.Context(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for _, m := range mails {
		if m.Kind == kind && m.To == testEmail {
			got++
		}
	}
	if got != n {
		t.Errorf("mails %s to %s: %d queued, want %d", kind, testEmail, got, n)
	}
}

type events struct {
	mu  sync.Mutex
	all []auth.Event
}

func (l *events) add(e auth.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, e)
}

func (l *events) of(typ auth.EventType) []auth.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []auth.Event
	for _, e := range l.all {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}
