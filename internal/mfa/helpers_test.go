package mfa_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authtest"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/sqlite"
)

// t0 is on a 30 s step boundary plus 10 s, so a step of skew either way
// is a whole step.
var t0 = time.Date(2026, time.March, 2, 9, 30, 10, 0, time.UTC)

const testPassword = "plum-kettle-orbit-42"

var client = auth.Client{IP: "203.0.113.7", UserAgent: "mfa-test/1.0"}

// env is a test's world: SQLite, a clock that moves when told, auth with
// the budgets on (in memory, on the same clock), and mfa registered.
type env struct {
	auth   *auth.Service
	mfa    *mfa.Service
	store  *sqlite.Store
	clock  *authtest.Clock
	events authtest.EventLog
	// mailsSeen is the last outbox id newMails has returned.
	mailsSeen int64
}

// newEnv is a service on a fresh SQLite store; authStore, if given, wraps
// the store auth sees (to make some of its writes fail).
func newEnv(t *testing.T, authStore ...func(*sqlite.Store) auth.Store) *env {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatalf("sqlite.Open = %v", err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{store: st, clock: authtest.NewClock(t0)}
	var seen auth.Store = st
	for _, wrap := range authStore {
		seen = wrap(st)
	}
	key := []byte("mfa-test-root-secret-of-32-bytes")
	e.auth, err = auth.NewService(auth.Config{
		Store: seen, Key: key, Now: e.clock.Now,
		Hasher:      password.NewHasher(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}),
		HashLimiter: password.NewLimiter(4, 10*time.Second),
		Counter:     auth.NewMemoryCounter(e.clock.Now, 1000),
		OnEvent:     e.events.Add,
	})
	if err != nil {
		t.Fatalf("auth.NewService = %v", err)
	}
	e.mfa, err = mfa.New(mfa.Config{Auth: e.auth, Store: st, Key: key, Now: e.clock.Now})
	if err != nil {
		t.Fatalf("mfa.New = %v", err)
	}
	e.auth.AddSecondFactor(e.mfa.TOTPFactor())
	e.auth.AddSecondFactor(e.mfa.RecoveryFactor())
	return e
}

// user registers email and returns its signed-in principal.
func (e *env) user(t *testing.T, email string) *auth.Principal {
	t.Helper()
	g, err := e.auth.Register(t.Context(), auth.Registration{Email: email, Password: testPassword, PasswordConfirmation: testPassword, Client: client})
	if err != nil {
		t.Fatalf("Register(%q) = %v", email, err)
	}
	return e.principal(t, g)
}

func (e *env) principal(t *testing.T, g *auth.Grant) *auth.Principal {
	t.Helper()
	p, err := e.auth.Authenticate(t.Context(), g.AccessToken)
	if err != nil {
		t.Fatalf("Authenticate = %v", err)
	}
	return p
}

// enrolled gives p's user a confirmed TOTP secret and returns it with the
// recovery codes; the clock moves a step on, past the confirming code.
func (e *env) enrolled(t *testing.T, p *auth.Principal) (string, []string) {
	t.Helper()
	en, err := e.mfa.EnrolTOTP(t.Context(), p)
	if err != nil {
		t.Fatalf("EnrolTOTP = %v", err)
	}
	codes, err := e.mfa.ConfirmTOTP(t.Context(), p, code(t, en.Secret, e.clock.Now()), client)
	if err != nil {
		t.Fatalf("ConfirmTOTP = %v", err)
	}
	e.clock.Advance(30 * time.Second)
	return en.Secret, codes
}

// pending signs email in with its password: a pending session now.
func (e *env) pending(t *testing.T, email string) (*auth.Grant, *auth.Principal) {
	t.Helper()
	g, err := e.auth.SignIn(t.Context(), auth.Credentials{Email: email, Password: testPassword, Client: client})
	if err != nil {
		t.Fatalf("SignIn(%q) = %v", email, err)
	}
	p := e.principal(t, g)
	if !p.Pending {
		t.Fatalf("SignIn(%q) of a user with TOTP: session not pending", email)
	}
	return g, p
}

func (e *env) count(typ auth.EventType) int { return len(e.events.Of(typ)) }

// notice is a queued mail as the owner's notices are checked: which
// mail, to whom.
type notice struct {
	Kind auth.MailKind
	To   string
}

// newMails returns the mails queued since its last call, oldest first.
func (e *env) newMails(t *testing.T) []notice {
	t.Helper()
	mails, err := e.auth.Mails(t.Context(), 0, 100) // newest first
	if err != nil {
		t.Fatalf("Mails = %v", err)
	}
	var got []notice
	for i := len(mails) - 1; i >= 0; i-- {
		if m := mails[i]; m.ID > e.mailsSeen {
			got = append(got, notice{Kind: m.Kind, To: m.To})
			e.mailsSeen = m.ID
		}
	}
	return got
}

// wantMails checks that the mails queued since newMails last ran are
// want; after names what queued them.
func (e *env) wantMails(t *testing.T, after string, want ...notice) {
	t.Helper()
	if d := cmp.Diff(want, e.newMails(t)); d != "" {
		t.Errorf("mails queued by %s (-want +got):\n%s", after, d)
	}
}

// codesLeft is the number of userID's unused recovery codes.
func (e *env) codesLeft(t *testing.T, userID int64) int {
	t.Helper()
	n, err := e.store.RecoveryCodesLeft(t.Context(), userID)
	if err != nil {
		t.Fatalf("RecoveryCodesLeft(%d) = %v", userID, err)
	}
	return n
}

// code is the TOTP code of secret at t, as an authenticator app shows it.
func code(t *testing.T, secret string, at time.Time) string { return authtest.TOTPCode(t, secret, at) }
