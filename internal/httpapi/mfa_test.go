package httpapi_test

import (
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authtest"
)

type enrolmentBody struct {
	Secret string `json:"secret"`
	URI    string `json:"uri"`
	QRPNG  string `json:"qr_png"`
}

type recoveryCodesBody struct {
	RecoveryCodes []string `json:"recovery_codes"`
}

// withTOTP registers email and turns TOTP on through the API; it returns
// the registration's session, the secret and the recovery codes, with the
// clock a step past the confirming code.
func (ts *testServer) withTOTP(t *testing.T, email string) (session, string, []string) {
	t.Helper()
	s := ts.register(t, email, "mfa-secret-1")
	resp := ts.do(t, s.viaCookie("POST", "/v1/auth/mfa/totp"))
	if resp.status != http.StatusCreated {
		t.Fatalf("%s: got %d, want 201; body %s", resp.call, resp.status, resp.body)
	}
	en := decode[enrolmentBody](t, resp)
	req := s.viaCookie("POST", "/v1/auth/mfa/totp/confirm")
	req.body = jsonObject("code", authtest.TOTPCode(t, en.Secret, ts.clock.Now()))
	codes := decode[recoveryCodesBody](t, ts.do(t, req)).RecoveryCodes
	ts.clock.Advance(30 * time.Second)
	return s, en.Secret, codes
}

// pendingSignIn signs email in: a pending session for a user with TOTP.
func (ts *testServer) pendingSignIn(t *testing.T, email string) session {
	t.Helper()
	resp := ts.do(t, request{method: "POST", path: "/v1/auth/sign_in", body: credentials(email, "mfa-secret-1")})
	if resp.status != http.StatusOK {
		t.Fatalf("%s: got %d; body %s", resp.call, resp.status, resp.body)
	}
	body := decode[struct {
		CSRF          string   `json:"csrf"`
		MFARequired   bool     `json:"mfa_required"`
		SecondFactors []string `json:"second_factors"`
	}](t, resp)
	if !body.MFARequired || !slices.Equal(body.SecondFactors, []string{"totp", "recovery_code"}) {
		t.Errorf("%s: got mfa_required %v, second_factors %q; want true, [totp recovery_code]", resp.call, body.MFARequired, body.SecondFactors)
	}
	c, _ := resp.cookie()
	return session{access: c.Value, csrf: body.CSRF}
}

// TestMFA_PendingSignIn: a pending session can only finish its second
// step or sign out; finishing it makes an AAL 2 session with new
// credentials.
func TestMFA_PendingSignIn(t *testing.T) {
	t.Parallel()
	ts := newServer(t, serverOptions{})
	_, secret, _ := ts.withTOTP(t, "ada@example.com")
	p := ts.pendingSignIn(t, "ada@example.com")

	for _, req := range []request{
		p.viaHeader("GET", "/v1/auth/me"),
		p.viaHeader("GET", "/v1/auth/verify"),
		p.viaCookie("GET", "/v1/auth/sessions"),
		p.viaCookie("GET", "/v1/auth/mfa"),
		p.viaCookie("POST", "/v1/auth/refresh"),
		p.viaCookie("POST", "/v1/auth/mfa/recovery_codes"),
	} {
		wantError(t, ts.do(t, req), http.StatusUnauthorized, "mfa_required")
	}
	wrong := p.viaCookie("POST", "/v1/auth/mfa/verify")
	wrong.body = jsonObject("method", "totp", "code", "000000")
	wantError(t, ts.do(t, wrong), http.StatusUnprocessableEntity, "validation_failed")

	finish := p.viaCookie("POST", "/v1/auth/mfa/verify")
	finish.body = jsonObject("method", "totp", "code", authtest.TOTPCode(t, secret, ts.clock.Now()))
	full := grantOf(t, ts.do(t, finish), http.StatusOK)
	if full.access == p.access {
		t.Errorf("POST /v1/auth/mfa/verify kept the pending access token; want a new one")
	}
	me := decode[meBody](t, ts.do(t, full.viaHeader("GET", "/v1/auth/me")))
	if !slices.Equal(me.Methods, []string{"password", "totp"}) || me.AAL != 2 {
		t.Errorf("GET /v1/auth/me after the second step: methods %q, aal %d; want [password totp], 2", me.Methods, me.AAL)
	}
	resp := ts.do(t, full.viaHeader("GET", "/v1/auth/verify?aal=2"))
	if resp.status != http.StatusOK || resp.header.Get("X-Auth-Aal") != "2" || resp.header.Get("X-Auth-Methods") != "password,totp" {
		t.Errorf("%s: got %d, X-Auth-Aal %q, X-Auth-Methods %q; want 200, 2, password,totp", resp.call, resp.status, resp.header.Get("X-Auth-Aal"), resp.header.Get("X-Auth-Methods"))
	}
	// The pending session is spent.
	again := p.viaCookie("POST", "/v1/auth/mfa/verify")
	again.body = jsonObject("method", "totp", "code", authtest.TOTPCode(t, secret, ts.clock.Now().Add(30*time.Second)))
	ts.clock.Advance(refreshGrace + time.Second)
	if got := ts.do(t, again); got.status != http.StatusUnauthorized {
		t.Errorf("%s with the finished pending token after the grace: got %d, want 401", got.call, got.status)
	}

	// Sign-out works while pending.
	other := ts.pendingSignIn(t, "ada@example.com")
	wantBody(t, ts.do(t, other.viaCookie("DELETE", "/v1/auth/sign_out")), http.StatusOK, `"ok"`)
}

// TestMFA_SeedUnchanged: with second factors wired in, a user who has
// none gets the seed's answers, and the AAL of a password.
func TestMFA_SeedUnchanged(t *testing.T) {
	t.Parallel()
	ts := newServer(t, serverOptions{})
	s := wantSeedGrant(t, ts.do(t, request{method: "POST", path: "/v1/auth", header: seedHeaders,
		body: `{"email": "chelsey@prohaska.name", "password": "6JzwdrAeiTeDrL", "password_confirmation": "6JzwdrAeiTeDrL"}`}), http.StatusCreated)
	in := wantSeedGrant(t, ts.do(t, request{method: "POST", path: "/v1/auth/sign_in", header: seedHeaders,
		body: `{"email": "chelsey@prohaska.name", "password": "6JzwdrAeiTeDrL"}`}), http.StatusOK)
	tokens := tokensOf(t, ts.do(t, request{method: "POST", path: "/v1/auth/sign_in", header: withHeaders(seedHeaders, "X-Auth-Transport", "token"),
		body: `{"email": "chelsey@prohaska.name", "password": "6JzwdrAeiTeDrL"}`}), http.StatusOK)
	wantBody(t, ts.do(t, tokens.viaHeader("DELETE", "/v1/auth/sign_out")), http.StatusOK, `"ok"`)
	wantBody(t, ts.do(t, in.viaCookie("DELETE", "/v1/auth/sign_out")), http.StatusOK, `"ok"`)

	resp := ts.do(t, s.viaHeader("GET", "/v1/auth/verify"))
	if resp.status != http.StatusOK || resp.header.Get("X-Auth-Aal") != "1" || resp.header.Get("X-Auth-Methods") != "password" {
		t.Errorf("%s: got %d, X-Auth-Aal %q, X-Auth-Methods %q; want 200, 1, password", resp.call, resp.status, resp.header.Get("X-Auth-Aal"), resp.header.Get("X-Auth-Methods"))
	}
	wantError(t, ts.do(t, s.viaHeader("GET", "/v1/auth/verify?aal=2")), http.StatusUnauthorized, "insufficient_aal")
	wantError(t, ts.do(t, s.viaHeader("GET", "/v1/auth/verify?aal=3")), http.StatusBadRequest, "bad_request")
	status := decode[map[string]any](t, ts.do(t, s.viaHeader("GET", "/v1/auth/mfa")))
	if d := cmp.Diff(map[string]any{"factors": []any{}, "totp_pending": false, "recovery_codes_left": 0.0}, status); d != "" {
		t.Errorf("GET /v1/auth/mfa of a user without factors (-want +got):\n%s", d)
	}
}

// TestMFA_Budget: concurrent guesses at one pending sign-in beyond its
// budget are refused with 429 before any check.
func TestMFA_Budget(t *testing.T) {
	t.Parallel()
	limits := auth.DefaultLimits()
	ts := newServer(t, serverOptions{limits: &limits})
	ts.withTOTP(t, "ada@example.com")
	p := ts.pendingSignIn(t, "ada@example.com")
	const n = 12
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req := p.viaCookie("POST", "/v1/auth/mfa/verify")
			req.body = jsonObject("method", "totp", "code", "000000")
			statuses[i] = ts.do(t, req).status
		})
	}
	wg.Wait()
	var checked, limited int
	for _, st := range statuses {
		switch st {
		case http.StatusUnprocessableEntity:
			checked++
		case http.StatusTooManyRequests:
			limited++
		default:
			t.Errorf("POST /v1/auth/mfa/verify with a wrong code: got %d, want 422 or 429", st)
		}
	}
	if checked > limits.FactorPerSession || checked+limited != n {
		t.Errorf("%d concurrent wrong codes: %d checked (422), %d refused (429); want at most %d checked", n, checked, limited, limits.FactorPerSession)
	}
}

// TestMFA_StepUp: disabling TOTP long after sign-in needs a fresh proof
// with the second factor; a password is refused for it.
func TestMFA_StepUp(t *testing.T) {
	t.Parallel()
	ts := newServer(t, serverOptions{})
	s, _, codes := ts.withTOTP(t, "ada@example.com")
	ts.clock.Advance(11 * time.Minute)
	wantError(t, ts.do(t, s.viaCookie("DELETE", "/v1/auth/mfa/totp")), http.StatusUnauthorized, "reauthentication_required")
	wantError(t, ts.do(t, s.viaCookie("POST", "/v1/auth/mfa/recovery_codes")), http.StatusUnauthorized, "reauthentication_required")
	pw := s.viaCookie("PUT", "/v1/auth/password")
	pw.body = jsonObject("current_password", "mfa-secret-1", "password", "mfa-secret-2", "password_confirmation", "mfa-secret-2")
	wantError(t, ts.do(t, pw), http.StatusUnauthorized, "reauthentication_required")
	email := s.viaCookie("PUT", "/v1/auth/email")
	email.body = jsonObject("email", "ada2@example.com", "current_password", "mfa-secret-1")
	wantError(t, ts.do(t, email), http.StatusUnauthorized, "reauthentication_required")

	byPassword := s.viaCookie("POST", "/v1/auth/reauthenticate")
	byPassword.body = jsonObject("method", "password", "password", "mfa-secret-1")
	wantError(t, ts.do(t, byPassword), http.StatusUnprocessableEntity, "validation_failed")
	byCode := s.viaCookie("POST", "/v1/auth/reauthenticate")
	byCode.body = jsonObject("method", "recovery_code", "code", codes[0])
	wantBody(t, ts.do(t, byCode), http.StatusOK, `"ok"`)

	fresh := decode[recoveryCodesBody](t, ts.do(t, s.viaCookie("POST", "/v1/auth/mfa/recovery_codes"))).RecoveryCodes
	if len(fresh) != 10 {
		t.Errorf("POST /v1/auth/mfa/recovery_codes: got %d codes, want 10", len(fresh))
	}
	wantBody(t, ts.do(t, s.viaCookie("DELETE", "/v1/auth/mfa/totp")), http.StatusOK, `"ok"`)
	wantSeedGrant(t, ts.do(t, request{method: "POST", path: "/v1/auth/sign_in", body: credentials("ada@example.com", "mfa-secret-1")}), http.StatusOK)
}

// TestMFA_CancelEnrolment: DELETE of TOTP while an enrolment waits for its
// first code cancels it, with no step-up; with neither TOTP nor an
// enrolment it is 404.
func TestMFA_CancelEnrolment(t *testing.T) {
	t.Parallel()
	ts := newServer(t, serverOptions{})
	s := ts.register(t, "ada@example.com", "mfa-secret-1")
	if resp := ts.do(t, s.viaCookie("POST", "/v1/auth/mfa/totp")); resp.status != http.StatusCreated {
		t.Fatalf("%s: got %d, want 201; body %s", resp.call, resp.status, resp.body)
	}
	ts.clock.Advance(11 * time.Minute) // past the step-up age of the registration
	wantBody(t, ts.do(t, s.viaCookie("DELETE", "/v1/auth/mfa/totp")), http.StatusOK, `"ok"`)
	status := decode[map[string]any](t, ts.do(t, s.viaHeader("GET", "/v1/auth/mfa")))
	if d := cmp.Diff(map[string]any{"factors": []any{}, "totp_pending": false, "recovery_codes_left": 0.0}, status); d != "" {
		t.Errorf("GET /v1/auth/mfa after cancelling the enrolment (-want +got):\n%s", d)
	}

	byPassword := s.viaCookie("POST", "/v1/auth/reauthenticate")
	byPassword.body = jsonObject("method", "password", "password", "mfa-secret-1")
	wantBody(t, ts.do(t, byPassword), http.StatusOK, `"ok"`)
	wantError(t, ts.do(t, s.viaCookie("DELETE", "/v1/auth/mfa/totp")), http.StatusNotFound, "not_found")
}
