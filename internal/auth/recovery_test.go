package auth_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
)

const newPassword = "quartz-lantern-meadow-77"

// forgot asks for a reset of email and returns the mail the worker would
// send, or nil if it dropped the request.
func (e *env) forgot(tb testing.TB, email string) *auth.Outgoing {
	tb.Helper()
	e.sendAll(tb) // the registrations' confirmation mails
	if err := e.svc.ForgotPassword(context.Background(), email, testClient); err != nil {
		tb.Fatalf("ForgotPassword(%q) = %v", email, err)
	}
	m, err := e.svc.NextMail(context.Background())
	if errors.Is(err, auth.ErrNotFound) {
		return nil
	}
	if err != nil {
		tb.Fatalf("NextMail() = %v", err)
	}
	if err := e.svc.MailDone(context.Background(), &m.Mail, nil); err != nil {
		tb.Fatalf("MailDone(%d) = %v", m.ID, err)
	}
	return m
}

func (e *env) reset(tok, pw string) (*auth.Grant, error) {
	return e.svc.ResetPassword(context.Background(), auth.PasswordReset{
		Token: tok, Password: pw, PasswordConfirmation: pw, Client: testClient,
	})
}

func TestForgotPassword_SameForUnknownAddress(t *testing.T) {
	e := newEnv(t)
	e.register(t, "known@example.com")
	known := e.forgot(t, "Known@Example.com ")
	if known == nil || known.Token == "" || known.To != "known@example.com" || known.Kind != auth.KindPasswordReset {
		t.Fatalf("mail for a known address = %+v, want a reset mail with a token", known)
	}
	if got := e.forgot(t, "nobody@example.com"); got != nil {
		t.Fatalf("mail for an unknown address = %+v, want none", got)
	}
	list, err := e.svc.Mails(context.Background(), 0, 2)
	if err != nil || len(list) != 2 {
		t.Fatalf("Mails() = %+v, %v; want both requests kept", list, err)
	}
	if list[0].State != auth.MailDropped || list[1].State != auth.MailSent {
		t.Errorf("Mails() states = %q, %q; want dropped (unknown), sent (known)", list[0].State, list[1].State)
	}
	if err := e.svc.ForgotPassword(context.Background(), "not an address", testClient); auth.ErrorCode(err) != auth.CodeValidationFailed {
		t.Errorf("ForgotPassword(invalid) = %v, want validation_failed", err)
	}
}

func TestResetPassword(t *testing.T) {
	e := newEnv(t)
	old := e.register(t, "a@example.com")
	m := e.forgot(t, "a@example.com")
	g, err := e.reset(m.Token, newPassword)
	if err != nil {
		t.Fatalf("ResetPassword = %v", err)
	}
	mustAuth(t, e.svc, g.AccessToken)
	checkAuth(t, e.svc, "session from before the reset", old.AccessToken, auth.ErrNotAuthorized)
	e.signIn(t, "a@example.com", newPassword)
	if _, err := e.reset(m.Token, "another-password-99"); !errors.Is(err, auth.ErrTokenInvalid) {
		t.Errorf("ResetPassword with a used token = %v, want ErrTokenInvalid", err)
	}
	notice, err := e.svc.NextMail(context.Background())
	if err != nil || notice.Kind != auth.KindPasswordChanged || notice.To != "a@example.com" || notice.Token != "" {
		t.Errorf("NextMail after a reset = %+v, %v; want a password-changed notice without a token", notice, err)
	}
}

func TestResetPassword_InvalidTokens(t *testing.T) {
	tests := []struct {
		name  string
		token func(e *env, tok string) string
	}{
		{"garbage", func(*env, string) string { return "not-a-token" }},
		{"empty", func(*env, string) string { return "" }},
		{"tamperedMAC", func(_ *env, tok string) string { return tamper(tok, -3) }},
		{"tamperedID", func(_ *env, tok string) string { return tamper(tok, 2) }},
		{"expired", func(e *env, tok string) string { e.clock.Advance(30 * time.Minute); return tok }},
		{"superseded", func(e *env, tok string) string { e.forgot(t, "a@example.com"); return tok }},
		{"passwordChanged", func(e *env, tok string) string {
			g := e.signIn(t, "a@example.com", testPassword)
			_, err := e.svc.ChangePassword(context.Background(), mustAuth(t, e.svc, g.AccessToken), auth.PasswordChange{
				CurrentPassword: testPassword, Password: newPassword, PasswordConfirmation: newPassword, Client: testClient,
			})
			if err != nil {
				t.Fatalf("ChangePassword = %v", err)
			}
			return tok
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.register(t, "a@example.com")
			tok := tt.token(e, e.forgot(t, "a@example.com").Token)
			if _, err := e.reset(tok, "another-password-99"); !errors.Is(err, auth.ErrTokenInvalid) {
				t.Errorf("ResetPassword(%s) = %v, want ErrTokenInvalid", tt.name, err)
			}
		})
	}
}

func TestResetPassword_BadPasswordKeepsToken(t *testing.T) {
	e := newEnv(t)
	e.register(t, "a@example.com")
	m := e.forgot(t, "a@example.com")
	if _, err := e.reset(m.Token, "short"); auth.ErrorCode(err) != auth.CodeValidationFailed {
		t.Fatalf("ResetPassword(short password) = %v, want validation_failed", err)
	}
	if _, err := e.reset(m.Token, newPassword); err != nil {
		t.Errorf("ResetPassword after a refused password = %v, want success", err)
	}
}

func TestResetPassword_ClearsBackOff(t *testing.T) {
	e := newEnv(t, func(c *auth.Config) { c.Counter = auth.NewMemoryCounter(c.Now, 1000) })
	e.register(t, "a@example.com")
	attacker := auth.Client{IP: "198.51.100.9"}
	for range auth.DefaultLimits().AccountFreeFailures + 1 {
		e.svc.SignIn(context.Background(), auth.Credentials{Email: "a@example.com", Password: "wrong-guess-1", Client: attacker})
	}
	owner := auth.Client{IP: "192.0.2.1"}
	creds := auth.Credentials{Email: "a@example.com", Password: newPassword, Client: owner}
	m := e.forgot(t, "a@example.com")
	if _, err := e.reset(m.Token, newPassword); err != nil {
		t.Fatalf("ResetPassword = %v", err)
	}
	if _, err := e.svc.SignIn(context.Background(), creds); err != nil {
		t.Errorf("SignIn from a new address after a reset = %v, want success (back-off cleared)", err)
	}
}

func TestForgotPassword_Budgets(t *testing.T) {
	e := newEnv(t, func(c *auth.Config) { c.Counter = auth.NewMemoryCounter(c.Now, 1000) })
	var err error
	for i := range 6 {
		client := auth.Client{IP: fmt.Sprintf("192.0.2.%d", i)}
		err = e.svc.ForgotPassword(context.Background(), "victim@example.com", client)
	}
	if !errors.Is(err, auth.ErrRateLimited) {
		t.Errorf("6th ForgotPassword for one address from 6 IPs = %v, want ErrRateLimited", err)
	}
	for i := range 21 {
		err = e.svc.ForgotPassword(context.Background(), fmt.Sprintf("u%d@example.com", i), testClient)
	}
	if !errors.Is(err, auth.ErrRateLimited) {
		t.Errorf("21st ForgotPassword from one IP = %v, want ErrRateLimited", err)
	}
	e.clock.Advance(time.Hour)
	if err := e.svc.ForgotPassword(context.Background(), "victim@example.com", testClient); err != nil {
		t.Errorf("ForgotPassword an hour later = %v, want success", err)
	}
}

func TestResetPassword_TokenAttempts(t *testing.T) {
	e := newEnv(t, func(c *auth.Config) { c.Counter = auth.NewMemoryCounter(c.Now, 1000) })
	e.register(t, "a@example.com")
	tok := e.forgot(t, "a@example.com").Token
	// Ten tries with refused passwords from ten addresses spend the token's
	// budget; the eleventh, right password and all, is refused.
	for i := range 10 {
		_, err := e.svc.ResetPassword(context.Background(), auth.PasswordReset{Token: tok, Password: "x", PasswordConfirmation: "x",
			Client: auth.Client{IP: fmt.Sprintf("192.0.2.%d", i)}})
		if auth.ErrorCode(err) != auth.CodeValidationFailed {
			t.Fatalf("try %d with a short password = %v, want validation_failed", i, err)
		}
	}
	if _, err := e.reset(tok, newPassword); !errors.Is(err, auth.ErrRateLimited) {
		t.Errorf("11th try of one token = %v, want ErrRateLimited", err)
	}
}

func TestForgotPassword_OutboxBound(t *testing.T) {
	e := newEnv(t, func(c *auth.Config) { c.MaxPendingMails = 2 })
	for i := range 3 {
		err := e.svc.ForgotPassword(context.Background(), fmt.Sprintf("u%d@example.com", i), testClient)
		if want := i == 2; errors.Is(err, auth.ErrOutboxFull) != want {
			t.Errorf("ForgotPassword #%d with a bound of 2 = %v, want ErrOutboxFull: %v", i, err, want)
		}
	}
	if n, err := e.svc.PendingMails(context.Background()); n != 2 || err != nil {
		t.Errorf("PendingMails() = %d, %v; want 2", n, err)
	}
}

func TestMailDone_BackOff(t *testing.T) {
	// A link that outlives two hours of retries.
	e := newEnv(t, func(c *auth.Config) { c.ResetTTL = 24 * time.Hour })
	e.register(t, "a@example.com")
	e.sendAll(t)
	if err := e.svc.ForgotPassword(context.Background(), "a@example.com", testClient); err != nil {
		t.Fatal(err)
	}
	var first string
	for attempt, wait := 1, time.Second; attempt <= auth.MaxMailAttempts; attempt++ {
		m, err := e.svc.NextMail(context.Background())
		if err != nil {
			t.Fatalf("NextMail (attempt %d) = %v", attempt, err)
		}
		if first == "" {
			first = m.Token
		} else if m.Token != first {
			t.Fatalf("attempt %d carries another token; a retry must resend the first", attempt)
		}
		if err := e.svc.MailDone(context.Background(), &m.Mail, errors.New("421 try later")); err != nil {
			t.Fatal(err)
		}
		if attempt == auth.MaxMailAttempts {
			break
		}
		if _, err := e.svc.NextMail(context.Background()); !errors.Is(err, auth.ErrNotFound) {
			t.Fatalf("NextMail right after failed attempt %d = %v, want ErrNotFound (backing off)", attempt, err)
		}
		e.clock.Advance(wait)
		wait = min(2*wait, 5*time.Minute)
	}
	list, _ := e.svc.Mails(context.Background(), 0, 1)
	if list[0].State != auth.MailFailed || list[0].LastError != "421 try later" {
		t.Errorf("after %d failures the mail is %q (%q), want failed with the last error", auth.MaxMailAttempts, list[0].State, list[0].LastError)
	}
	if err := e.svc.RetryMail(context.Background(), list[0].ID); err != nil {
		t.Fatalf("RetryMail = %v", err)
	}
	if m, err := e.svc.NextMail(context.Background()); err != nil || m.Token != first {
		t.Errorf("NextMail after RetryMail = %v; want the mail again with its token", err)
	}
}

func TestNextMail_DropsExpiredLink(t *testing.T) {
	e := newEnv(t)
	e.register(t, "a@example.com")
	e.sendAll(t)
	if err := e.svc.ForgotPassword(context.Background(), "a@example.com", testClient); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(30 * time.Minute) // SMTP was down all along
	if m, err := e.svc.NextMail(context.Background()); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("NextMail for a request older than the reset TTL = %+v, %v; want it dropped", m, err)
	}
}

// FuzzResetPassword: no string but the mailed token resets the password,
// and none panics or fails other than as token_invalid.
func FuzzResetPassword(f *testing.F) {
	e := newEnv(f)
	e.register(f, "a@example.com")
	valid := e.forgot(f, "a@example.com").Token
	f.Add(valid[:len(valid)-1])
	f.Add(valid + "=")
	f.Add(tamper(valid, -1))
	f.Add(valid[:22] + "." + valid[:22])
	f.Add("")
	f.Add(".")
	f.Add(strings.Repeat("A", 22) + ".")
	f.Fuzz(func(t *testing.T, tok string) {
		if tok == valid {
			return
		}
		if _, err := e.reset(tok, newPassword); !errors.Is(err, auth.ErrTokenInvalid) {
			t.Fatalf("ResetPassword(%q) = %v, want ErrTokenInvalid", tok, err)
		}
	})
}
