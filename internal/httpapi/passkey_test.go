package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/authtest"
)

// passkeyOrigin is the page the test servers' passkeys are for.
const passkeyOrigin = "https://app.example.com"

type passkeyJSON struct {
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	CreatedAt      string   `json:"created_at"`
	LastUsedAt     *string  `json:"last_used_at"`
	Transports     []string `json:"transports"`
	BackupEligible bool     `json:"backup_eligible"`
	BackedUp       bool     `json:"backed_up"`
}

// sending returns req with body.
func sending(req request, body string) request {
	req.body = body
	return req
}

// addPasskey registers a's passkey to the session's account through the
// API, as a page would with fetch() and navigator.credentials.create.
func (ts *testServer) addPasskey(t *testing.T, s session, a *authtest.Authenticator, name string) passkeyJSON {
	t.Helper()
	begin := ts.do(t, sending(s.viaCookie("POST", "/v1/auth/passkeys/register/begin"), jsonObject("name", name)))
	if begin.status != http.StatusOK {
		t.Fatalf("%s: got %d %s, want 200", begin.call, begin.status, begin.body)
	}
	cred, err := a.Create([]byte(begin.body))
	if err != nil {
		t.Fatalf("authenticator Create(%s) = %v", begin.body, err)
	}
	finish := ts.do(t, sending(s.viaCookie("POST", "/v1/auth/passkeys/register/finish"), string(cred)))
	if finish.status != http.StatusCreated {
		t.Fatalf("%s: got %d %s, want 201", finish.call, finish.status, finish.body)
	}
	return decode[passkeyJSON](t, finish)
}

func TestPasskeys_Manage(t *testing.T) {
	ts := newServer(t, serverOptions{passkeys: true})
	s := ts.register(t, "ada@example.com", "plum-kettle-orbit-42")
	a := authtest.NewAuthenticator(passkeyOrigin)
	got := ts.addPasskey(t, s, a, "Laptop")
	if got.ID != a.ID() || got.Name != "Laptop" || got.LastUsedAt != nil || !got.BackupEligible {
		t.Errorf("register/finish = %+v; want id %s named Laptop, never used, backup eligible", got, a.ID())
	}
	list := decode[[]passkeyJSON](t, ts.do(t, s.viaHeader("GET", "/v1/auth/passkeys")))
	if len(list) != 1 || list[0].ID != a.ID() {
		t.Errorf("GET /v1/auth/passkeys = %+v, want the one passkey", list)
	}
	wantBody(t, ts.do(t, sending(s.viaCookie("PUT", "/v1/auth/passkeys/"+a.ID()), jsonObject("name", "Work"))), http.StatusOK, `"ok"`)
	wantError(t, ts.do(t, sending(s.viaCookie("PUT", "/v1/auth/passkeys/"+a.ID()), jsonObject("name", strings.Repeat("x", 65)))), http.StatusUnprocessableEntity, "validation_failed")
	wantError(t, ts.do(t, sending(s.viaCookie("PUT", "/v1/auth/passkeys/nope"), jsonObject("name", "x"))), http.StatusNotFound, "not_found")
	ts.stepUp(t, s, a) // removing a factor takes a proof with the strongest one
	wantBody(t, ts.do(t, s.viaCookie("DELETE", "/v1/auth/passkeys/"+a.ID())), http.StatusOK, `"ok"`)
	wantError(t, ts.do(t, s.viaCookie("DELETE", "/v1/auth/passkeys/"+a.ID())), http.StatusNotFound, "not_found")
	wantBody(t, ts.do(t, s.viaHeader("GET", "/v1/auth/passkeys")), http.StatusOK, `[]`)
}

func TestPasskeys_RegisterRefused(t *testing.T) {
	ts := newServer(t, serverOptions{passkeys: true})
	s := ts.register(t, "ada@example.com", "plum-kettle-orbit-42")
	begin := ts.do(t, sending(s.viaCookie("POST", "/v1/auth/passkeys/register/begin"), `{}`))
	phish := authtest.NewAuthenticator("https://app.example.com.evil.test")
	cred, err := phish.Create([]byte(begin.body))
	if err != nil {
		t.Fatal(err)
	}
	finish := sending(s.viaCookie("POST", "/v1/auth/passkeys/register/finish"), string(cred))
	e := wantError(t, ts.do(t, finish), http.StatusUnprocessableEntity, "validation_failed")
	if len(e.Details["credential"]) != 1 {
		t.Errorf("register/finish from another origin: details %v, want one for credential", e.Details)
	}
	// The challenge went with the failed attempt.
	wantError(t, ts.do(t, finish), http.StatusUnprocessableEntity, "token_invalid")
	for _, body := range []string{`{"id":"a","id":"b"}`, `{"response":{"clientDataJSON":"x","ClientDataJSON":"y"}}`, `{"id":"a"} {}`, `[]`} {
		wantError(t, ts.do(t, sending(s.viaCookie("POST", "/v1/auth/passkeys/register/finish"), body)), http.StatusBadRequest, "bad_request")
	}
	// Without a session, nothing.
	wantError(t, ts.do(t, request{method: "POST", path: "/v1/auth/passkeys/register/begin", body: `{}`}), http.StatusUnauthorized, "not_authorized")
}

func TestPasskeys_Off(t *testing.T) {
	ts := newServer(t, serverOptions{})
	s := ts.register(t, "ada@example.com", "plum-kettle-orbit-42")
	e := wantError(t, ts.do(t, s.viaHeader("GET", "/v1/auth/passkeys")), http.StatusNotFound, "not_found")
	if e.Error != "Passkeys are not enabled on this server" {
		t.Errorf("GET /v1/auth/passkeys without a relying party: error %q", e.Error)
	}
}

// ceremony runs begin (no body) and answers its options with answer,
// returning the finish request's body.
func (ts *testServer) ceremony(t *testing.T, begin request, answer func([]byte) ([]byte, error)) string {
	t.Helper()
	resp := ts.do(t, begin)
	if resp.status != http.StatusOK {
		t.Fatalf("%s: got %d %s, want 200", resp.call, resp.status, resp.body)
	}
	body, err := answer([]byte(resp.body))
	if err != nil {
		t.Fatalf("authenticator answering %s: %v", resp.body, err)
	}
	return string(body)
}

// stepUp proves the session's user afresh with a's passkey.
func (ts *testServer) stepUp(t *testing.T, s session, a *authtest.Authenticator) {
	t.Helper()
	body := ts.ceremony(t, s.viaCookie("POST", "/v1/auth/passkeys/reauthenticate/begin"), a.Get)
	wantBody(t, ts.do(t, sending(s.viaCookie("POST", "/v1/auth/passkeys/reauthenticate/finish"), body)), http.StatusOK, `"ok"`)
}

var passkeySignInBegin = request{method: "POST", path: "/v1/auth/passkeys/sign_in/begin"}

func passkeySignInFinish(body string, header map[string]string) request {
	return request{method: "POST", path: "/v1/auth/passkeys/sign_in/finish", body: body, header: header}
}

func TestPasskeys_SignIn(t *testing.T) {
	ts := newServer(t, serverOptions{passkeys: true})
	s := ts.register(t, "ada@example.com", "plum-kettle-orbit-42")
	a := authtest.NewAuthenticator(passkeyOrigin)
	ts.addPasskey(t, s, a, "Laptop")

	// The cookie way, as a page does it, and the token way, as an app does.
	cookie := grantOf(t, ts.do(t, passkeySignInFinish(ts.ceremony(t, passkeySignInBegin, a.Get), nil)), http.StatusOK)
	me := decode[map[string]any](t, ts.do(t, cookie.viaCookie("GET", "/v1/auth/me")))
	if me["aal"] != float64(2) {
		t.Errorf("GET /v1/auth/me after a passkey sign-in: %v, want aal 2", me)
	}
	tokensOf(t, ts.do(t, passkeySignInFinish(ts.ceremony(t, passkeySignInBegin, a.Get), tokenTransport)), http.StatusOK)

	// Refused: a reused challenge, a phishing page.
	body := ts.ceremony(t, passkeySignInBegin, a.Get)
	ts.do(t, passkeySignInFinish(body, nil))
	wantError(t, ts.do(t, passkeySignInFinish(body, nil)), http.StatusUnprocessableEntity, "token_invalid")
	a.SetOrigin("https://app.example.com.evil.test")
	wantError(t, ts.do(t, passkeySignInFinish(ts.ceremony(t, passkeySignInBegin, a.Get), nil)), http.StatusUnauthorized, "invalid_credentials")
	wantError(t, ts.do(t, passkeySignInFinish(`{"id":"AA","rawId":"AA","type":"public-key","response":{}}`, nil)), http.StatusBadRequest, "bad_request")
}

func TestPasskeys_SecondFactor(t *testing.T) {
	ts := newServer(t, serverOptions{passkeys: true})
	s := ts.register(t, "ada@example.com", "plum-kettle-orbit-42")
	a := authtest.NewAuthenticator(passkeyOrigin)
	ts.addPasskey(t, s, a, "Laptop")

	resp := ts.do(t, request{method: "POST", path: "/v1/auth/sign_in", header: tokenTransport, body: credentials("ada@example.com", "plum-kettle-orbit-42")})
	pending := decode[map[string]any](t, resp)
	if pending["mfa_required"] != true {
		t.Fatalf("%s of a user with a passkey: %s, want mfa_required", resp.call, resp.body)
	}
	p := session{access: pending["access"].(string)}
	// A pending sign-in can do nothing but its second step.
	wantError(t, ts.do(t, p.viaHeader("GET", "/v1/auth/passkeys")), http.StatusUnauthorized, "mfa_required")
	wantError(t, ts.do(t, p.viaHeader("POST", "/v1/auth/passkeys/reauthenticate/begin")), http.StatusUnauthorized, "mfa_required")

	body := ts.ceremony(t, p.viaHeader("POST", "/v1/auth/passkeys/second_factor/begin"), a.Get)
	finish := p.viaHeader("POST", "/v1/auth/passkeys/second_factor/finish")
	finish.body, finish.header["X-Auth-Transport"] = body, "token"
	done := tokensOf(t, ts.do(t, finish), http.StatusOK)
	wantBody(t, ts.do(t, done.viaHeader("GET", "/v1/auth/passkeys")), http.StatusOK, ts.do(t, s.viaHeader("GET", "/v1/auth/passkeys")).body)
	// A complete session has no second step to finish.
	wantError(t, ts.do(t, done.viaHeader("POST", "/v1/auth/passkeys/second_factor/begin")), http.StatusBadRequest, "bad_request")
}

func TestPasskeys_StepUp(t *testing.T) {
	ts := newServer(t, serverOptions{passkeys: true})
	s := ts.register(t, "ada@example.com", "plum-kettle-orbit-42")
	a := authtest.NewAuthenticator(passkeyOrigin)
	ts.addPasskey(t, s, a, "Laptop")
	// The session was proven by a password; the user now has a passkey,
	// so removing it (or adding another) takes a proof with it.
	wantError(t, ts.do(t, s.viaCookie("DELETE", "/v1/auth/passkeys/"+a.ID())), http.StatusUnauthorized, "reauthentication_required")
	ts.stepUp(t, s, a)
	wantBody(t, ts.do(t, s.viaCookie("DELETE", "/v1/auth/passkeys/"+a.ID())), http.StatusOK, `"ok"`)
	// Without passkeys there is nothing to step up with.
	wantError(t, ts.do(t, s.viaCookie("POST", "/v1/auth/passkeys/reauthenticate/begin")), http.StatusUnprocessableEntity, "validation_failed")
}
