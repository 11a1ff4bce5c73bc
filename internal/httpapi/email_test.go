package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/gatehouse/gatehouse/internal/auth"
)

func confirmEmail(tok string) request {
	return request{method: "POST", path: "/v1/auth/email/confirm", body: jsonObject("token", tok)}
}

func TestConfirmEmail(t *testing.T) {
	t.Parallel()
	ts := newServer(t, serverOptions{})
	s := ts.register(t, "a@example.com", oldPassword)
	tok := ts.mailedToken(t, auth.KindConfirmEmail)
	wantBody(t, ts.do(t, confirmEmail(tok)), http.StatusOK, `"ok"`)
	e := wantError(t, ts.do(t, confirmEmail(tok)), http.StatusUnprocessableEntity, "token_invalid")
	if e.Error != "Confirmation token is invalid or has expired" {
		t.Errorf("confirm with a used token: error %q", e.Error)
	}
	resend := s.viaCookie("POST", "/v1/auth/email/confirm/resend")
	wantBody(t, ts.do(t, resend), http.StatusAccepted, `"ok"`)
	if tok := ts.mailedToken(t, auth.KindConfirmEmail); tok != "" {
		t.Error("resend for a confirmed address sent a mail")
	}
	ts.wantStatus(t, http.StatusUnauthorized, request{method: "POST", path: "/v1/auth/email/confirm/resend"})
}

func TestChangeEmail(t *testing.T) {
	t.Parallel()
	ts := newServer(t, serverOptions{})
	s := ts.register(t, "old@example.com", oldPassword)
	ts.mailedToken(t, auth.KindConfirmEmail)
	change := func(email, pw string) request {
		r := s.viaCookie("PUT", "/v1/auth/email")
		r.body = jsonObject("email", email, "current_password", pw)
		return r
	}
	e := wantError(t, ts.do(t, change("new@example.com", "not-the-password")), http.StatusUnprocessableEntity, "validation_failed")
	if e.Error != "Current password is invalid" {
		t.Errorf("change with a wrong password: error %q", e.Error)
	}
	wantBody(t, ts.do(t, change("new@example.com", oldPassword)), http.StatusAccepted, `"ok"`)
	tok := ts.mailedToken(t, auth.KindEmailChange)
	ts.wantStatus(t, http.StatusOK, s.viaCookie("GET", "/v1/auth/me"))
	wantBody(t, ts.do(t, confirmEmail(tok)), http.StatusOK, `"ok"`)
	ts.wantStatus(t, http.StatusUnauthorized, s.viaCookie("GET", "/v1/auth/me"))
	ts.signIn(t, "new@example.com", oldPassword)
}

func TestRequireEmailConfirmation(t *testing.T) {
	t.Parallel()
	ts := newServer(t, serverOptions{requireConfirmed: true})
	resp := ts.do(t, request{method: "POST", path: "/v1/auth", body: registration("a@example.com", oldPassword, oldPassword)})
	wantBody(t, resp, http.StatusCreated, `"ok"`)
	if c := resp.setCookie(); c != "" {
		t.Errorf("registration with confirmation required set a cookie: %s", c)
	}
	e := wantError(t, ts.do(t, request{method: "POST", path: "/v1/auth/sign_in", body: credentials("a@example.com", oldPassword)}),
		http.StatusForbidden, "email_unconfirmed")
	if e.Error != "Email not confirmed" {
		t.Errorf("sign-in unconfirmed: error %q", e.Error)
	}
	wantBody(t, ts.do(t, confirmEmail(ts.mailedToken(t, auth.KindConfirmEmail))), http.StatusOK, `"ok"`)
	ts.signIn(t, "a@example.com", oldPassword)
}
