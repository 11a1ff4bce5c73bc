package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/browsertest"
	"github.com/pquerna/otp/totp"
)

// TestBrowserPasskeysAndSecondFactors runs the example page's passkey and
// second-factor calls in Chromium, whose virtual authenticator (the
// DevTools WebAuthn domain) stands in for a laptop's fingerprint reader:
// register with a password, add a passkey, step up with it to enrol TOTP,
// sign out, sign in with the passkey alone (no email typed), then finish
// password sign-ins with a code this test computes, with the passkey and
// with a recovery code, which works once.
func TestBrowserPasskeysAndSecondFactors(t *testing.T) {
	b := browsertest.New(t)
	page := browsertest.ServeFiles(t, "../../examples/spa")
	api, _ := startBrowserServer(t, "--cors-origins", page, "--webauthn-rp-id", "localhost", "--webauthn-origins", page)
	b.Navigate(page + "/?api=" + url.QueryEscape(api))
	authenticator := b.AddPlatformAuthenticator()

	const email, password = "grace@example.com", "correct horse battery"
	signUpIn := fmt.Sprintf("%q, %q", email, password)
	if r := step(b, "register", "gatehouse.register("+signUpIn+")"); r.Status != http.StatusCreated {
		t.Fatalf("register: got %v, want 201", r)
	}

	r := step(b, "add-passkey", `gatehouse.passkey("register", { name: "Laptop" })`)
	var added struct{ ID, Name string }
	if json.Unmarshal(r.Body, &added); r.Status != http.StatusCreated || added.Name != "Laptop" {
		t.Fatalf("add a passkey: got %v, want 201 with the name Laptop", r)
	}
	creds := authenticator.Credentials()
	if len(creds) != 1 || !creds[0].IsResidentCredential || creds[0].RpID != "localhost" ||
		base64.RawURLEncoding.EncodeToString(creds[0].CredentialID) != added.ID {
		t.Fatalf("the authenticator after adding a passkey: got %d credentials (%+v), want one discoverable credential for localhost with id %s", len(creds), creds, added.ID)
	}

	// The session was proven by the password, and the user now has a
	// passkey: the next dangerous change needs a step-up with it.
	if r := step(b, "enrol-totp-before-step-up", "gatehouse.enrolTOTP()"); r.Status != http.StatusUnauthorized || r.code() != "reauthentication_required" {
		t.Fatalf("enrol TOTP in a password session of a user with a passkey: got %v, want 401 reauthentication_required", r)
	}
	if r := step(b, "passkey-step-up", `gatehouse.passkey("reauthenticate")`); r.Status != http.StatusOK || string(r.Body) != `"ok"` {
		t.Fatalf("step up with the passkey: got %v, want 200 \"ok\"", r)
	}
	r = step(b, "enrol-totp", "gatehouse.enrolTOTP()")
	var enrolment struct{ Secret, URI string }
	if json.Unmarshal(r.Body, &enrolment); r.Status != http.StatusCreated || enrolment.Secret == "" || !strings.HasPrefix(enrolment.URI, "otpauth://totp/") {
		t.Fatalf("enrol TOTP after the step-up: got %v, want 201 with a secret and an otpauth://totp/ URI", r)
	}
	code, err := totp.GenerateCode(enrolment.Secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r = step(b, "confirm-totp", fmt.Sprintf("gatehouse.confirmTOTP(%q)", code))
	var confirmed struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	if json.Unmarshal(r.Body, &confirmed); r.Status != http.StatusOK || len(confirmed.RecoveryCodes) != 10 {
		t.Fatalf("confirm TOTP with a code computed here: got %v, want 200 with ten recovery codes", r)
	}

	if r := step(b, "sign-out", "gatehouse.signOut()"); r.Status != http.StatusOK {
		t.Fatalf("sign-out: got %v, want 200", r)
	}
	r = step(b, "passkey-sign-in", `gatehouse.passkey("sign_in")`)
	if r.Status != http.StatusOK {
		t.Fatalf("sign in with the passkey alone: got %v, want 200", r)
	}
	checkMe(t, b, "me-after-passkey-sign-in", email, "passkey")

	// A password sign-in now waits for the second factor.
	pendingSignIn := func(name string) {
		t.Helper()
		if r := step(b, "sign-out-before-"+name, "gatehouse.signOut()"); r.Status != http.StatusOK {
			t.Fatalf("sign-out: got %v, want 200", r)
		}
		r := step(b, "password-sign-in-before-"+name, "gatehouse.signIn("+signUpIn+")")
		var pending struct {
			MFARequired   bool     `json:"mfa_required"`
			SecondFactors []string `json:"second_factors"`
		}
		if json.Unmarshal(r.Body, &pending); r.Status != http.StatusOK || !pending.MFARequired || !slices.Contains(pending.SecondFactors, "totp") {
			t.Fatalf("password sign-in of a user with TOTP: got %v, want 200 with mfa_required and totp among second_factors", r)
		}
		if r := step(b, "me-while-pending-"+name, "gatehouse.me()"); r.Status != http.StatusUnauthorized || r.code() != "mfa_required" {
			t.Errorf("me while the sign-in waits for its second factor: got %v, want 401 mfa_required", r)
		}
	}

	pendingSignIn("totp")
	// The confirming code's time step is spent (a code is accepted once);
	// the next step's code is within the ±1 step the server accepts.
	code, err = totp.GenerateCode(enrolment.Secret, time.Now().Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if r := step(b, "totp", fmt.Sprintf("gatehouse.verifyTOTP(%q)", code)); r.Status != http.StatusOK {
		t.Fatalf("finish the sign-in with a TOTP code: got %v, want 200", r)
	}
	checkMe(t, b, "me-after-totp", email, "totp")

	pendingSignIn("passkey")
	if r := step(b, "passkey-second-factor", `gatehouse.passkey("second_factor")`); r.Status != http.StatusOK {
		t.Fatalf("finish the sign-in with the passkey: got %v, want 200", r)
	}
	checkMe(t, b, "me-after-passkey-second-factor", email, "passkey")

	pendingSignIn("recovery-code")
	if r := step(b, "recovery-code", fmt.Sprintf("gatehouse.useRecoveryCode(%q)", confirmed.RecoveryCodes[0])); r.Status != http.StatusOK {
		t.Fatalf("finish the sign-in with a recovery code: got %v, want 200", r)
	}
	checkMe(t, b, "me-after-recovery-code", email, "recovery_code")

	pendingSignIn("spent-recovery-code")
	if r := step(b, "spent-recovery-code", fmt.Sprintf("gatehouse.useRecoveryCode(%q)", confirmed.RecoveryCodes[0])); r.Status != http.StatusUnprocessableEntity || r.code() != "validation_failed" {
		t.Errorf("the same recovery code a second time: got %v, want 422 validation_failed", r)
	}
}

// checkMe asks the page for /me and checks the user, that the session
// records method among the ways it was authenticated, and that each way
// the test takes makes a session of two factors (AAL 2).
func checkMe(t *testing.T, b *browsertest.Browser, name, email, method string) {
	t.Helper()
	r := step(b, name, "gatehouse.me()")
	var me struct {
		Email   string
		Methods []string
		AAL     int
	}
	if json.Unmarshal(r.Body, &me); r.Status != http.StatusOK || me.Email != email || !slices.Contains(me.Methods, method) || me.AAL != 2 {
		t.Errorf("%s: got %v, want 200 for %s at AAL 2 with %s among the methods", name, r, email, method)
	}
}
