package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/authtest"
	"github.com/gatehouse/gatehouse/internal/passkey"
)

func TestPasskeyRelyingParty(t *testing.T) {
	for _, tc := range []struct {
		name        string
		args        []string
		wantOn      bool
		wantRPID    string
		wantOrigins []string
		wantErr     bool
	}{
		{name: "Off", args: nil},
		{name: "FromPublicURL", args: []string{"--public-url", "https://app.example.com:8443/base"},
			wantOn: true, wantRPID: "app.example.com", wantOrigins: []string{"https://app.example.com:8443"}},
		{name: "ParentDomain", args: []string{"--public-url", "https://app.example.com", "--webauthn-rp-id", "example.com"},
			wantOn: true, wantRPID: "example.com", wantOrigins: []string{"https://app.example.com"}},
		{name: "RPIDAlone", args: []string{"--webauthn-rp-id", "example.com"},
			wantOn: true, wantRPID: "example.com", wantOrigins: []string{"https://example.com"}},
		{name: "Explicit", args: []string{"--webauthn-rp-id", "example.com", "--webauthn-origins", "https://a.example.com,http://localhost.example.com:3000"},
			wantOn: true, wantRPID: "example.com", wantOrigins: []string{"https://a.example.com", "http://localhost.example.com:3000"}},
		{name: "OriginOffDomain", args: []string{"--webauthn-rp-id", "example.com", "--webauthn-origins", "https://example.org"}, wantErr: true},
		{name: "OriginsWithoutRP", args: []string{"--webauthn-origins", "https://example.com"}, wantErr: true},
		{name: "LookalikeDomain", args: []string{"--webauthn-rp-id", "example.com", "--webauthn-origins", "https://evilexample.com"}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseConfig("serve", tc.args, func(string) string { return "" }, io.Discard)
			if tc.wantErr {
				if err == nil {
					t.Errorf("parseConfig(%q) = nil error, want a usage error", tc.args)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseConfig(%q) = %v", tc.args, err)
			}
			rp, on, err := cfg.Passkeys.relyingParty(cfg.Mail.PublicURL)
			if err != nil || on != tc.wantOn || rp.RPID != tc.wantRPID || !slices.Equal(rp.Origins, tc.wantOrigins) {
				t.Errorf("relyingParty(%q) = %+v, %v, %v; want on %v, %s, %q", tc.args, rp, on, err, tc.wantOn, tc.wantRPID, tc.wantOrigins)
			}
		})
	}
}

// The wiring: a node given a relying party serves the ceremonies end to
// end, and a passkey then signs in alone.
func TestServe_Passkeys(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr lockedBuffer
	db := "sqlite:" + filepath.Join(t.TempDir(), "g.db")
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--db", db, "--webauthn-rp-id", "example.com"}, func(string) string { return "" }, noStdin, &stdout, &stderr)
	}()
	base := waitForURL(t, &stdout)
	status, tokens := call(t, "POST", base+"/v1/auth", "", `{"email":"ada@example.com","password":"plum-kettle-orbit-42","password_confirmation":"plum-kettle-orbit-42"}`)
	if status != http.StatusCreated {
		t.Fatalf("register: got %d", status)
	}
	a := authtest.NewAuthenticator("https://example.com")
	cred, err := a.Create(options(t, base+"/v1/auth/passkeys/register/begin", tokens["access"].(string), `{"name":"Laptop"}`))
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := call(t, "POST", base+"/v1/auth/passkeys/register/finish", tokens["access"].(string), string(cred)); status != http.StatusCreated {
		t.Fatalf("register/finish: got %d", status)
	}
	assertion, err := a.Get(options(t, base+"/v1/auth/passkeys/sign_in/begin", "", ""))
	if err != nil {
		t.Fatal(err)
	}
	if status, body := call(t, "POST", base+"/v1/auth/passkeys/sign_in/finish", "", string(assertion)); status != http.StatusOK || body["access"] == nil {
		t.Errorf("sign_in/finish: got %d %v, want 200 with tokens", status, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v; stderr %s", err, stderr.String())
	}

	// The same database served with passkeys off: the passkey still
	// guards the account, so the password alone gets a pending sign-in.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	var stdoutOff lockedBuffer
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--db", db}, func(string) string { return "" }, noStdin, &stdoutOff, &stderr)
	}()
	base = waitForURL(t, &stdoutOff)
	status, body := call(t, "POST", base+"/v1/auth/sign_in", "", `{"email":"ada@example.com","password":"plum-kettle-orbit-42"}`)
	if status != http.StatusOK || body["mfa_required"] != true {
		t.Errorf("password sign-in with passkeys off: got %d %v, want 200 with mfa_required", status, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run without a relying party: %v; stderr %s", err, stderr.String())
	}
}

// options POSTs a ceremony's begin and returns its options as JSON.
func options(t *testing.T, url, bearer, body string) []byte {
	t.Helper()
	status, out := call(t, "POST", url, bearer, body)
	if status != http.StatusOK {
		t.Fatalf("POST %s: got %d %v", url, status, out)
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// An administrator sees and removes passkeys like any second factor,
// on a node without a relying party (admin commands run no ceremonies).
func TestUsersMFA_Passkeys(t *testing.T) {
	c := newCLI(t)
	c.env["GATEHOUSE_NEW_PASSWORD"] = cliPassword
	c.mustRun("users", "create", "--email", "lost@example.com")
	st := c.app().store.(passkey.Store)
	ctx := context.Background()
	if err := st.AddPasskey(ctx, &passkey.Credential{ID: []byte("k1"), UserID: 1, PublicKey: []byte("cose"), Name: "Phone", CreatedAt: time.Now()}); err != nil {
		t.Fatalf("AddPasskey = %v", err)
	}
	if out := c.mustRun("users", "mfa", "list", "1"); out != "user 1 (lost@example.com): passkey\n" {
		t.Errorf("users mfa list: got %q", out)
	}
	if out := c.mustRun("users", "mfa", "reset", "1"); !strings.Contains(out, "removed passkey of user 1") {
		t.Errorf("users mfa reset: got %q", out)
	}
	if list, err := st.Passkeys(ctx, 1); err != nil || len(list) != 0 {
		t.Errorf("Passkeys() after users mfa reset = %v, %v; want none", list, err)
	}
}
