package passkey_test

import (
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authtest"
	"github.com/gatehouse/gatehouse/internal/passkey"
)

// enrolled is a user with one passkey, held by a, whose counter starts at
// 1 (so regressions are visible).
func enrolled(t *testing.T, e *env) (*auth.Principal, *authtest.Authenticator) {
	t.Helper()
	p := e.signUp(t, testEmail)
	a := authtest.NewAuthenticator(origin)
	a.SetCount(1)
	e.addPasskey(t, p, a, "Laptop")
	return p, a
}

func TestSignIn(t *testing.T) {
	e := newEnv(t)
	owner, a := enrolled(t, e)
	e.clock.Advance(time.Minute)
	g, err := e.signInWith(t, a)
	if err != nil {
		t.Fatalf("FinishSignIn() = %v", err)
	}
	p := e.principal(t, g)
	if p.UserID != owner.UserID || p.Pending || !slices.Equal(p.Methods, []auth.Method{auth.MethodPasskey}) || p.AAL() != 2 {
		t.Errorf("principal of a passkey sign-in = %+v; want user %d, complete, methods [passkey], AAL 2", p, owner.UserID)
	}
	list, _ := e.pk.List(t.Context(), p)
	if len(list) != 1 || list[0].SignCount != 2 || !list[0].LastUsedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("List() after a sign-in = %+v; want counter 2, last used %v", list, t0.Add(time.Minute))
	}
}

// Authenticators without a counter send zero every time, which is fine.
func TestSignIn_ZeroCounter(t *testing.T) {
	e := newEnv(t)
	p := e.signUp(t, testEmail)
	a := authtest.NewAuthenticator(origin)
	e.addPasskey(t, p, a, "Phone")
	for i := range 3 {
		if _, err := e.signInWith(t, a); err != nil {
			t.Fatalf("FinishSignIn(zero counter, #%d) = %v", i, err)
		}
	}
}

func TestSignIn_Refused(t *testing.T) {
	for _, tc := range []struct {
		name string
		// finish runs a sign-in ceremony of a (a passkey of the user) in
		// its own way and returns FinishSignIn's error.
		finish func(t *testing.T, e *env, a *authtest.Authenticator) error
		want   auth.Code
	}{
		{"WrongOrigin", func(t *testing.T, e *env, a *authtest.Authenticator) error {
			a.SetOrigin(phishOrigin)
			_, err := e.signInWith(t, a)
			return err
		}, auth.CodeInvalidCredentials},
		{"ChallengeReused", func(t *testing.T, e *env, a *authtest.Authenticator) error {
			options, _ := e.pk.BeginSignIn(t.Context(), auth.Client{})
			body := get(t, a, marshal(t, options))
			if _, err := e.pk.FinishSignIn(t.Context(), body, auth.Client{}); err != nil {
				t.Fatalf("FinishSignIn(first) = %v", err)
			}
			_, err := e.pk.FinishSignIn(t.Context(), body, auth.Client{})
			return err
		}, auth.CodeTokenInvalid},
		{"ChallengeExpired", func(t *testing.T, e *env, a *authtest.Authenticator) error {
			options, _ := e.pk.BeginSignIn(t.Context(), auth.Client{})
			e.clock.Advance(passkey.DefaultCeremonyTTL)
			_, err := e.pk.FinishSignIn(t.Context(), get(t, a, marshal(t, options)), auth.Client{})
			return err
		}, auth.CodeTokenInvalid},
		{"CounterRegressed", func(t *testing.T, e *env, a *authtest.Authenticator) error {
			if _, err := e.signInWith(t, a); err != nil {
				t.Fatalf("FinishSignIn(first) = %v", err)
			}
			a.SetCount(1) // a clone, made before the first sign-in, signs with 2 again
			_, err := e.signInWith(t, a)
			if got := e.events.of(passkey.EventCounterRegressed); len(got) != 1 || got[0].Reason != a.ID() {
				t.Errorf("events %s = %+v, want one naming %s", passkey.EventCounterRegressed, got, a.ID())
			}
			return err
		}, auth.CodeInvalidCredentials},
		{"PasskeyDeleted", func(t *testing.T, e *env, a *authtest.Authenticator) error {
			p := e.principal(t, mustGrant(t)(e.signInWith(t, a)))
			if err := e.pk.Delete(t.Context(), p, a.ID(), auth.Client{}); err != nil {
				t.Fatal(err)
			}
			_, err := e.signInWith(t, a)
			return err
		}, auth.CodeInvalidCredentials},
		{"UserLocked", func(t *testing.T, e *env, a *authtest.Authenticator) error {
			u, err := e.auth.FindUser(t.Context(), testEmail)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.auth.LockUser(t.Context(), u.ID); err != nil {
				t.Fatal(err)
			}
			_, err = e.signInWith(t, a)
			return err
		}, auth.CodeInvalidCredentials},
		{"SecondFactorChallenge", func(t *testing.T, e *env, a *authtest.Authenticator) error {
			// A challenge begun for a second step does not sign in.
			g, err := e.auth.SignIn(t.Context(), auth.Credentials{Email: testEmail, Password: testPass})
			if err != nil {
				t.Fatal(err)
			}
			options := e.beginAssertion(t, e.principal(t, g), passkey.KindSecondFactor)
			_, err = e.pk.FinishSignIn(t.Context(), get(t, a, options), auth.Client{})
			return err
		}, auth.CodeTokenInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			_, a := enrolled(t, e)
			checkCode(t, "FinishSignIn()", tc.finish(t, e, a), tc.want)
		})
	}
}

func mustGrant(t *testing.T) func(*auth.Grant, error) *auth.Grant {
	return func(g *auth.Grant, err error) *auth.Grant {
		t.Helper()
		if err != nil {
			t.Fatalf("grant: %v", err)
		}
		return g
	}
}

// A ceremony begun on one node finishes on another.
func TestSignIn_AcrossNodes(t *testing.T) {
	e := newEnv(t)
	_, a := enrolled(t, e)
	options, err := e.pk.BeginSignIn(t.Context(), auth.Client{})
	if err != nil {
		t.Fatal(err)
	}
	other := e.newNode(t)
	if _, err := other.pk.FinishSignIn(t.Context(), get(t, a, marshal(t, options)), auth.Client{}); err != nil {
		t.Errorf("FinishSignIn(on another node) = %v", err)
	}
}

func TestSecondFactor(t *testing.T) {
	e := newEnv(t)
	owner, a := enrolled(t, e)
	g, err := e.auth.SignIn(t.Context(), auth.Credentials{Email: testEmail, Password: testPass})
	if err != nil {
		t.Fatalf("SignIn(password) = %v", err)
	}
	if !slices.Contains(g.SecondFactors, auth.MethodPasskey) {
		t.Fatalf("SignIn(password) of a user with a passkey: second factors %q, want passkey", g.SecondFactors)
	}
	pending := e.principal(t, g)
	_, err = e.pk.BeginAssertion(t.Context(), owner, passkey.KindSecondFactor)
	checkIs(t, "BeginAssertion(second factor, complete session)", err, auth.ErrNotPending)
	_, err = e.pk.BeginAssertion(t.Context(), pending, passkey.KindStepUp)
	checkIs(t, "BeginAssertion(step-up, pending session)", err, auth.ErrMFARequired)

	// Begun on one node, finished on another.
	options := e.beginAssertion(t, pending, passkey.KindSecondFactor)
	other := e.newNode(t)
	done, err := other.pk.FinishSecondFactor(t.Context(), pending, get(t, a, options), auth.Client{})
	if err != nil {
		t.Fatalf("FinishSecondFactor() = %v", err)
	}
	p := other.principal(t, done)
	if p.Pending || !slices.Equal(p.Methods, []auth.Method{auth.MethodPassword, auth.MethodPasskey}) {
		t.Errorf("principal after the second step = %+v; want complete, methods [password passkey]", p)
	}
}

func TestSecondFactor_Refused(t *testing.T) {
	e := newEnv(t)
	_, a := enrolled(t, e)
	g, err := e.auth.SignIn(t.Context(), auth.Credentials{Email: testEmail, Password: testPass})
	if err != nil {
		t.Fatal(err)
	}
	pending := e.principal(t, g)
	// Another user's passkey does not finish this user's sign-in.
	stranger := e.signUp(t, "bob@example.com")
	b := authtest.NewAuthenticator(origin)
	e.addPasskey(t, stranger, b, "Bob's")
	options := e.beginAssertion(t, pending, passkey.KindSecondFactor)
	_, err = e.pk.FinishSecondFactor(t.Context(), pending, get(t, b, options), auth.Client{})
	checkIs(t, "FinishSecondFactor(another user's passkey)", err, passkey.ErrAssertionInvalid)
	// From a phishing page.
	a.SetOrigin(phishOrigin)
	_, err = e.pk.FinishSecondFactor(t.Context(), pending, get(t, a, e.beginAssertion(t, pending, passkey.KindSecondFactor)), auth.Client{})
	checkIs(t, "FinishSecondFactor(wrong origin)", err, passkey.ErrAssertionInvalid)
	if got := e.events.of(auth.EventSecondFactorFailed); len(got) != 2 {
		t.Errorf("events %s = %d, want 2", auth.EventSecondFactorFailed, len(got))
	}
}

// A dangerous change needs a recent proof; a passkey gives one.
func TestStepUp(t *testing.T) {
	e := newEnv(t)
	p, a := enrolled(t, e)
	e.clock.Advance(11 * time.Minute)
	checkIs(t, "Delete(stale session)", e.pk.Delete(t.Context(), p, a.ID(), auth.Client{}), auth.ErrReauthenticationRequired)
	_, err := e.pk.BeginRegistration(t.Context(), p, "Another")
	checkIs(t, "BeginRegistration(stale session)", err, auth.ErrReauthenticationRequired)

	options := e.beginAssertion(t, p, passkey.KindStepUp)
	if err := e.pk.FinishStepUp(t.Context(), p, get(t, a, options), auth.Client{}); err != nil {
		t.Fatalf("FinishStepUp() = %v", err)
	}
	if err := e.pk.Delete(t.Context(), p, a.ID(), auth.Client{}); err != nil {
		t.Errorf("Delete(after a step-up) = %v", err)
	}
}

func TestReset(t *testing.T) {
	e := newEnv(t)
	p, a := enrolled(t, e)
	f := passkey.NewFactor(e.store)
	if ok, err := f.Enrolled(t.Context(), p.UserID); !ok || err != nil {
		t.Errorf("Enrolled(user with a passkey) = %v, %v; want true", ok, err)
	}
	if err := f.Reset(t.Context(), p.UserID); err != nil {
		t.Fatalf("Reset() = %v", err)
	}
	if ok, err := f.Enrolled(t.Context(), p.UserID); ok || err != nil {
		t.Errorf("Enrolled(after reset) = %v, %v; want false", ok, err)
	}
	_, err := e.signInWith(t, a)
	checkCode(t, "FinishSignIn(reset passkey)", err, auth.CodeInvalidCredentials)
}

// Every finish that checks an assertion is admitted by the budgets first:
// a session's checks past its budget get 429, whatever they carry.
func TestStepUp_Budgeted(t *testing.T) {
	e := newEnvWith(t, true)
	p, a := enrolled(t, e)
	c := auth.Client{IP: "203.0.113.9"}
	body := get(t, a, e.beginAssertion(t, p, passkey.KindStepUp))
	if err := e.pk.FinishStepUp(t.Context(), p, body, c); err != nil {
		t.Fatalf("FinishStepUp(first) = %v", err)
	}
	limit := auth.DefaultLimits().FactorPerSession
	for i := 1; i < limit; i++ {
		checkCode(t, "FinishStepUp(reused challenge)", e.pk.FinishStepUp(t.Context(), p, body, c), auth.CodeTokenInvalid)
	}
	checkCode(t, "FinishStepUp(past the session's budget)", e.pk.FinishStepUp(t.Context(), p, body, c), auth.CodeRateLimited)
}
