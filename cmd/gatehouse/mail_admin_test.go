package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/auth"
)

func TestMailAndRecoveryCommands(t *testing.T) {
	c := newCLI(t)
	c.env["GATEHOUSE_NEW_PASSWORD"] = cliPassword
	c.mustRun("users", "create", "--email", "ops@example.com")
	a := c.app()
	ctx := context.Background()
	g, err := a.svc.SignIn(ctx, auth.Credentials{Email: "ops@example.com", Password: cliPassword})
	if err != nil {
		t.Fatal(err)
	}

	if out := c.mustRun("users", "send-reset", "ops@example.com"); out != "reset mail for user 1 (ops@example.com) queued\n" {
		t.Errorf("users send-reset: got %q", out)
	}
	m, err := a.svc.NextMail(ctx)
	if err != nil || m.Kind != auth.KindPasswordReset || m.Token == "" {
		t.Fatalf("NextMail after send-reset = %+v, %v; want a reset mail with a token", m, err)
	}
	if err := a.svc.MailDone(ctx, &m.Mail, errors.New("550 mailbox unavailable")); err != nil {
		t.Fatal(err)
	}
	out := c.mustRun("mail", "list")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.Contains(lines[1], "password_reset") ||
		!strings.Contains(lines[1], "550 mailbox unavailable") || strings.Contains(out, m.Token) {
		t.Errorf("mail list: got %q, want the reset mail with its last error and no token", out)
	}
	if out := c.mustRun("mail", "list", "--json"); !strings.Contains(out, `"state": "pending"`) || !strings.Contains(out, `"attempts": 1`) {
		t.Errorf("mail list --json: got %q", out)
	}
	if out := c.mustRun("mail", "retry", "1"); out != "mail 1 is due again\n" {
		t.Errorf("mail retry: got %q", out)
	}
	if again, err := a.svc.NextMail(ctx); err != nil || again.ID != m.ID || again.Token != m.Token {
		t.Errorf("NextMail after mail retry = %+v, %v; want mail %d again with its token", again, err, m.ID)
	}

	c.env["GATEHOUSE_NEW_PASSWORD"] = "fresh-operator-pass-9"
	if out := c.mustRun("users", "set-password", "ops@example.com"); !strings.Contains(out, "every session revoked") {
		t.Errorf("users set-password: got %q", out)
	}
	if _, err := a.svc.Refresh(ctx, auth.RefreshRequest{RefreshToken: g.RefreshToken}); !errors.Is(err, auth.ErrNotAuthorized) {
		t.Errorf("Refresh after users set-password = %v, want ErrNotAuthorized", err)
	}
	if _, err := a.svc.SignIn(ctx, auth.Credentials{Email: "ops@example.com", Password: "fresh-operator-pass-9"}); err != nil {
		t.Errorf("SignIn with the password set = %v", err)
	}
	if _, err := a.svc.ResetPassword(ctx, auth.PasswordReset{Token: m.Token, Password: "yet-another-pass-8", PasswordConfirmation: "yet-another-pass-8"}); !errors.Is(err, auth.ErrTokenInvalid) {
		t.Errorf("ResetPassword with a link from before set-password = %v, want ErrTokenInvalid", err)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"mail", "retry", "x"}, "not a mail id"},
		{[]string{"mail", "retry", "99"}, "not found"},
		{[]string{"mail"}, "missing command"},
		{[]string{"users", "set-password", "nobody@example.com"}, "no user"},
	} {
		if _, errOut, err := c.run(tt.args...); err == nil || !strings.Contains(strings.ToLower(err.Error()+errOut), tt.want) {
			t.Errorf("gatehouse %s: got %v, want an error containing %q", strings.Join(tt.args, " "), err, tt.want)
		}
	}
	c.env["GATEHOUSE_NEW_PASSWORD"] = "short"
	if _, _, err := c.run("users", "set-password", "ops@example.com"); err == nil || !strings.Contains(err.Error(), "too short") {
		t.Errorf("users set-password with a short password: got %v", err)
	}
}
