package passkey_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authtest"
	"github.com/gatehouse/gatehouse/internal/passkey"
)

func TestRegistration(t *testing.T) {
	e := newEnv(t)
	p := e.signUp(t, testEmail)
	a := authtest.NewAuthenticator(origin)
	cred := e.addPasskey(t, p, a, "  Laptop  ")
	if cred.Name != "Laptop" || cred.UserID != p.UserID || !cred.BackupEligible || !cred.BackedUp || len(cred.Transports) != 2 {
		t.Errorf("FinishRegistration() = %+v; want Laptop of user %d, backed up, two transports", cred, p.UserID)
	}
	if got := e.events.of(auth.EventFactorAdded); len(got) != 1 || got[0].UserID != p.UserID || got[0].Reason != string(auth.MethodPasskey) {
		t.Errorf("events %s = %+v, want one of a passkey for user %d", auth.EventFactorAdded, got, p.UserID)
	}
	checkMails(t, e, auth.KindFactorAdded, 1)
	// A second authenticator, unnamed, a minute later. Now that the user
	// has a passkey, adding a factor takes a proof with it.
	e.clock.Advance(time.Minute)
	_, err := e.pk.BeginRegistration(t.Context(), p, "")
	checkIs(t, "BeginRegistration(second passkey, password session)", err, auth.ErrReauthenticationRequired)
	e.stepUp(t, p, a)
	e.addPasskey(t, p, authtest.NewAuthenticator(origin), "")
	list, err := e.pk.List(t.Context(), p)
	if err != nil || len(list) != 2 || list[0].Name != "Laptop" || list[1].Name != passkey.DefaultName {
		t.Fatalf("List() = %+v, %v; want Laptop then %s", list, err, passkey.DefaultName)
	}
	// The same authenticator again is excluded by the browser; if it were
	// not, the store refuses the duplicate.
	_, err = e.pk.FinishRegistration(t.Context(), p, create(t, a, e.beginRegistration(t, p, "again")), auth.Client{})
	checkCode(t, "FinishRegistration(registered passkey)", err, auth.CodeValidationFailed)

	if err := e.pk.Rename(t.Context(), p, a.ID(), "Work laptop", auth.Client{}); err != nil {
		t.Errorf("Rename() = %v", err)
	}
	if err := e.pk.Delete(t.Context(), p, a.ID(), auth.Client{}); err != nil {
		t.Errorf("Delete() = %v", err)
	}
	if got := e.events.of(auth.EventFactorRemoved); len(got) != 1 || got[0].Reason != string(auth.MethodPasskey) {
		t.Errorf("events %s = %+v, want one of a passkey", auth.EventFactorRemoved, got)
	}
	checkMails(t, e, auth.KindFactorRemoved, 1)
	list, _ = e.pk.List(t.Context(), p)
	if len(list) != 1 || list[0].Name != passkey.DefaultName {
		t.Errorf("List() after deleting Laptop = %+v, want the unnamed one", list)
	}
	checkIs(t, "Delete(deleted)", e.pk.Delete(t.Context(), p, a.ID(), auth.Client{}), auth.ErrNotFound)
	checkIs(t, "Rename(malformed id)", e.pk.Rename(t.Context(), p, "!!", "x", auth.Client{}), auth.ErrNotFound)
}

// Another user's passkeys are not there for the caller: not listed,
// renamed nor deleted.
func TestRegistration_OtherUsersPasskeys(t *testing.T) {
	e := newEnv(t)
	owner, other := e.signUp(t, testEmail), e.signUp(t, "bob@example.com")
	a := authtest.NewAuthenticator(origin)
	e.addPasskey(t, owner, a, "Laptop")
	if list, err := e.pk.List(t.Context(), other); err != nil || len(list) != 0 {
		t.Errorf("List(other user) = %v, %v; want none", list, err)
	}
	checkIs(t, "Rename(other user's)", e.pk.Rename(t.Context(), other, a.ID(), "mine", auth.Client{}), auth.ErrNotFound)
	checkIs(t, "Delete(other user's)", e.pk.Delete(t.Context(), other, a.ID(), auth.Client{}), auth.ErrNotFound)
}

func TestRegistration_Refused(t *testing.T) {
	for _, tc := range []struct {
		name string
		// finish finishes a registration begun by p with options, from the
		// authenticator a, and returns the error.
		finish func(t *testing.T, e *env, p *auth.Principal, a *authtest.Authenticator, options []byte) error
		want   auth.Code
	}{
		{"WrongOrigin", func(t *testing.T, e *env, p *auth.Principal, a *authtest.Authenticator, options []byte) error {
			a.SetOrigin(phishOrigin)
			_, err := e.pk.FinishRegistration(t.Context(), p, create(t, a, options), auth.Client{})
			return err
		}, auth.CodeValidationFailed},
		{"ChallengeReused", func(t *testing.T, e *env, p *auth.Principal, a *authtest.Authenticator, options []byte) error {
			body := create(t, a, options)
			if _, err := e.pk.FinishRegistration(t.Context(), p, body, auth.Client{}); err != nil {
				t.Fatalf("FinishRegistration(first) = %v", err)
			}
			e.stepUp(t, p, a) // the user has a passkey now
			_, err := e.pk.FinishRegistration(t.Context(), p, body, auth.Client{})
			return err
		}, auth.CodeTokenInvalid},
		{"ChallengeExpired", func(t *testing.T, e *env, p *auth.Principal, a *authtest.Authenticator, options []byte) error {
			e.clock.Advance(passkey.DefaultCeremonyTTL + time.Second)
			_, err := e.pk.FinishRegistration(t.Context(), p, create(t, a, options), auth.Client{})
			return err
		}, auth.CodeTokenInvalid},
		{"OtherSession", func(t *testing.T, e *env, p *auth.Principal, a *authtest.Authenticator, options []byte) error {
			g, err := e.auth.SignIn(t.Context(), auth.Credentials{Email: testEmail, Password: testPass})
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.pk.FinishRegistration(t.Context(), e.principal(t, g), create(t, a, options), auth.Client{})
			return err
		}, auth.CodeTokenInvalid},
		{"Malformed", func(t *testing.T, e *env, p *auth.Principal, a *authtest.Authenticator, options []byte) error {
			_, err := e.pk.FinishRegistration(t.Context(), p, []byte(`{"id":"AAAA","type":"public-key"}`), auth.Client{})
			return err
		}, auth.CodeBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			p := e.signUp(t, testEmail)
			options := e.beginRegistration(t, p, "Laptop")
			checkCode(t, "FinishRegistration()", tc.finish(t, e, p, authtest.NewAuthenticator(origin), options), tc.want)
		})
	}
}

// A ceremony begun on one node finishes on another: the challenge is in
// the shared store, not in a node's memory.
func TestRegistration_AcrossNodes(t *testing.T) {
	e := newEnv(t)
	p := e.signUp(t, testEmail)
	options := e.beginRegistration(t, p, "Laptop")
	other := e.newNode(t)
	if _, err := other.pk.FinishRegistration(t.Context(), p, create(t, authtest.NewAuthenticator(origin), options), auth.Client{}); err != nil {
		t.Errorf("FinishRegistration(on another node) = %v", err)
	}
}

func TestRegistration_Name(t *testing.T) {
	e := newEnv(t)
	p := e.signUp(t, testEmail)
	for _, name := range []string{strings.Repeat("é", 65), "tab\there"} {
		_, err := e.pk.BeginRegistration(t.Context(), p, name)
		checkCode(t, "BeginRegistration(bad name)", err, auth.CodeValidationFailed)
	}
}
