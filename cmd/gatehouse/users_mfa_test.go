package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/mfa"
)

// TestUsersMFA: an administrator lists and removes a user's second
// factors; the removal is audited, and the password alone signs in again.
func TestUsersMFA(t *testing.T) {
	c := newCLI(t)
	c.env["GATEHOUSE_NEW_PASSWORD"] = cliPassword
	c.mustRun("users", "create", "--email", "lost@example.com")
	if out := c.mustRun("users", "mfa", "list", "lost@example.com"); out != "user 1 (lost@example.com): no second factor\n" {
		t.Errorf("users mfa list (none): got %q", out)
	}

	// A confirmed TOTP secret and recovery codes, as the API leaves them.
	a := c.app()
	ctx := context.Background()
	st := a.store.(mfa.Store)
	now := time.Now()
	if err := st.PutTOTP(ctx, 1, []byte("sealed"), now); err != nil {
		t.Fatalf("PutTOTP = %v", err)
	}
	if err := st.UseTOTPStep(ctx, 1, []byte("sealed"), 1, now, true); err != nil {
		t.Fatalf("UseTOTPStep = %v", err)
	}
	if err := st.ReplaceRecoveryCodes(ctx, 1, [][]byte{[]byte("h1"), []byte("h2")}, now); err != nil {
		t.Fatalf("ReplaceRecoveryCodes = %v", err)
	}
	g, err := a.svc.SignIn(ctx, auth.Credentials{Email: "lost@example.com", Password: cliPassword})
	if err != nil || len(g.SecondFactors) == 0 {
		t.Fatalf("SignIn with factors = %v, second factors %q; want a pending sign-in", err, g.SecondFactors)
	}

	if out := c.mustRun("users", "mfa", "list", "1"); out != "user 1 (lost@example.com): totp, recovery_code\n" {
		t.Errorf("users mfa list: got %q", out)
	}
	var stdout, stderr bytes.Buffer
	err = run(ctx, []string{"users", "mfa", "reset", "lost@example.com", "--db", c.db}, func(string) string { return "" }, noStdin, &stdout, &stderr)
	out, errOut := stdout.String(), stderr.String()
	if err != nil {
		t.Fatalf("users mfa reset: %v\nstderr: %s", err, errOut)
	}
	if want := "removing the second factors of user 1 (lost@example.com)…\nremoved totp, recovery_code of user 1 (lost@example.com)\n"; out != want {
		t.Errorf("users mfa reset: got %q, want %q", out, want)
	}
	if n := strings.Count(errOut, `"factor_removed"`); n != 2 {
		t.Errorf("users mfa reset: %d factor_removed audit lines, want 2; stderr %s", n, errOut)
	}
	if out := c.mustRun("users", "mfa", "reset", "lost@example.com"); !strings.Contains(out, "had no second factor") {
		t.Errorf("users mfa reset (again): got %q", out)
	}
	g, err = a.svc.SignIn(ctx, auth.Credentials{Email: "lost@example.com", Password: cliPassword})
	if err != nil || len(g.SecondFactors) != 0 {
		t.Errorf("SignIn after users mfa reset = %v, second factors %q; want a complete sign-in", err, g.SecondFactors)
	}
	if _, _, err := c.run("users", "mfa", "frobnicate"); exitStatus(err) != 2 {
		t.Errorf("users mfa frobnicate: got %v, want a usage error", err)
	}
}
