package auth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// sendAll runs the outbox worker's half until nothing is due and returns
// the mails it would send, by kind.
func (e *env) sendAll(tb testing.TB) map[auth.MailKind]*auth.Outgoing {
	tb.Helper()
	out := map[auth.MailKind]*auth.Outgoing{}
	for {
		m, err := e.svc.NextMail(context.Background())
		if errors.Is(err, auth.ErrNotFound) {
			return out
		}
		if err != nil {
			tb.Fatalf("NextMail() = %v", err)
		}
		if err := e.svc.MailDone(context.Background(), &m.Mail, nil); err != nil {
			tb.Fatal(err)
		}
		out[m.Kind] = m
	}
}

func TestRegister_SendsConfirmation(t *testing.T) {
	e := newEnv(t)
	g := e.register(t, "a@example.com")
	m := e.sendAll(t)[auth.KindConfirmEmail]
	if m == nil || m.To != "a@example.com" || m.Token == "" {
		t.Fatalf("mail after registration = %+v, want a confirmation with a token", m)
	}
	p := mustAuth(t, e.svc, g.AccessToken)
	if err := e.svc.ConfirmEmail(context.Background(), m.Token, testClient); err != nil {
		t.Fatalf("ConfirmEmail = %v", err)
	}
	if err := e.svc.ConfirmEmail(context.Background(), m.Token, testClient); !errors.Is(err, auth.ErrConfirmTokenInvalid) {
		t.Errorf("ConfirmEmail twice = %v, want ErrConfirmTokenInvalid", err)
	}
	mustAuth(t, e.svc, g.AccessToken) // confirming ends no session
	// Confirmed: resend sends nothing.
	if err := e.svc.ResendConfirmation(context.Background(), p, testClient); err != nil {
		t.Fatalf("ResendConfirmation = %v", err)
	}
	if got := e.sendAll(t); len(got) != 0 {
		t.Errorf("ResendConfirmation for a confirmed address sent %v", got)
	}
}

func TestRequireConfirmation(t *testing.T) {
	e := newEnv(t, func(c *auth.Config) { c.RequireConfirmed = true })
	g, err := e.svc.Register(context.Background(), auth.Registration{
		Email: "a@example.com", Password: testPassword, PasswordConfirmation: testPassword, Client: testClient,
	})
	if g != nil || err != nil {
		t.Fatalf("Register with confirmation required = %+v, %v; want no grant, no error", g, err)
	}
	first := e.sendAll(t)[auth.KindConfirmEmail]
	creds := auth.Credentials{Email: "a@example.com", Password: testPassword, Client: testClient}
	if _, err := e.svc.SignIn(context.Background(), creds); !errors.Is(err, auth.ErrEmailUnconfirmed) {
		t.Fatalf("SignIn unconfirmed = %v, want ErrEmailUnconfirmed", err)
	}
	wrong := creds
	wrong.Password = "not-the-password-1"
	if _, err := e.svc.SignIn(context.Background(), wrong); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Errorf("SignIn unconfirmed with a wrong password = %v, want ErrInvalidCredentials (no hint)", err)
	}
	// The refused sign-in queued a fresh link, which replaced the first.
	again := e.sendAll(t)[auth.KindConfirmEmail]
	if again == nil || again.Token == first.Token {
		t.Fatalf("refused sign-in queued %+v, want a new confirmation", again)
	}
	if err := e.svc.ConfirmEmail(context.Background(), first.Token, testClient); !errors.Is(err, auth.ErrConfirmTokenInvalid) {
		t.Errorf("ConfirmEmail with the superseded link = %v, want ErrConfirmTokenInvalid", err)
	}
	if err := e.svc.ConfirmEmail(context.Background(), again.Token, testClient); err != nil {
		t.Fatalf("ConfirmEmail = %v", err)
	}
	if _, err := e.svc.SignIn(context.Background(), creds); err != nil {
		t.Errorf("SignIn confirmed = %v", err)
	}
}

func TestChangeEmail(t *testing.T) {
	e := newEnv(t)
	g := e.register(t, "old@example.com")
	e.register(t, "taken@example.com")
	e.sendAll(t)
	p := mustAuth(t, e.svc, g.AccessToken)
	change := func(email, pw string) error {
		return e.svc.ChangeEmail(context.Background(), p, auth.EmailChange{Email: email, CurrentPassword: pw, Client: testClient})
	}
	for _, tt := range []struct{ email, pw, code string }{
		{"new@example.com", "wrong-password-1", "validation_failed"},
		{"not an address", testPassword, "validation_failed"},
		{"old@example.com", testPassword, "validation_failed"},
		{"taken@example.com", testPassword, "validation_failed"},
	} {
		if err := change(tt.email, tt.pw); auth.ErrorCode(err) != auth.Code(tt.code) {
			t.Errorf("ChangeEmail(%q, %q) = %v, want %s", tt.email, tt.pw, err, tt.code)
		}
	}
	if err := change("New@Example.com", testPassword); err != nil {
		t.Fatalf("ChangeEmail = %v", err)
	}
	mails := e.sendAll(t)
	link, notice := mails[auth.KindEmailChange], mails[auth.KindEmailChangeNotice]
	if link == nil || link.To != "new@example.com" || notice == nil || notice.To != "old@example.com" || notice.Token != "" {
		t.Fatalf("mails after ChangeEmail = %+v; want a link to the new address and a notice without one to the old", mails)
	}
	// Nothing changed yet, and the new address is reserved against no one.
	if u, err := e.svc.FindUser(context.Background(), "old@example.com"); err != nil || u.ID != p.UserID {
		t.Errorf("FindUser(old) before confirming = %v, %v", u, err)
	}
	if err := e.svc.ConfirmEmail(context.Background(), link.Token, testClient); err != nil {
		t.Fatalf("ConfirmEmail(change) = %v", err)
	}
	if u, err := e.svc.FindUser(context.Background(), "new@example.com"); err != nil || u.ID != p.UserID {
		t.Errorf("FindUser(new) after confirming = %v, %v", u, err)
	}
	checkAuth(t, e.svc, "session from before the change", g.AccessToken, auth.ErrNotAuthorized)
	e.signIn(t, "new@example.com", testPassword)
}

func TestChangeEmail_TakenBeforeConfirming(t *testing.T) {
	e := newEnv(t)
	g := e.register(t, "a@example.com")
	p := mustAuth(t, e.svc, g.AccessToken)
	if err := e.svc.ChangeEmail(context.Background(), p, auth.EmailChange{Email: "b@example.com", CurrentPassword: testPassword, Client: testClient}); err != nil {
		t.Fatal(err)
	}
	link := e.sendAll(t)[auth.KindEmailChange]
	e.register(t, "b@example.com") // not reserved: someone else registers it first
	if err := e.svc.ConfirmEmail(context.Background(), link.Token, testClient); !errors.Is(err, auth.ErrEmailTaken) {
		t.Errorf("ConfirmEmail to an address taken meanwhile = %v, want ErrEmailTaken", err)
	}
}

func TestConfirmEmail_Expired(t *testing.T) {
	e := newEnv(t)
	e.register(t, "a@example.com")
	m := e.sendAll(t)[auth.KindConfirmEmail]
	e.clock.Advance(48 * time.Hour)
	if err := e.svc.ConfirmEmail(context.Background(), m.Token, testClient); !errors.Is(err, auth.ErrConfirmTokenInvalid) {
		t.Errorf("ConfirmEmail after 48h = %v, want ErrConfirmTokenInvalid", err)
	}
	if err := e.svc.ConfirmEmail(context.Background(), "x.y", testClient); !errors.Is(err, auth.ErrConfirmTokenInvalid) {
		t.Errorf("ConfirmEmail(garbage) = %v, want ErrConfirmTokenInvalid", err)
	}
}

func TestResetPassword_ConfirmsAddress(t *testing.T) {
	e := newEnv(t, func(c *auth.Config) { c.RequireConfirmed = true })
	if _, err := e.svc.Register(context.Background(), auth.Registration{
		Email: "a@example.com", Password: testPassword, PasswordConfirmation: testPassword, Client: testClient,
	}); err != nil {
		t.Fatal(err)
	}
	e.sendAll(t)
	if _, err := e.reset(e.forgot(t, "a@example.com").Token, newPassword); err != nil {
		t.Fatalf("ResetPassword of an unconfirmed account = %v", err)
	}
	e.signIn(t, "a@example.com", newPassword) // the reset proved the address
}
