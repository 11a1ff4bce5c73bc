package httpapi_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/gatehouse/gatehouse/internal/auth"
)

func forgot(email string) request {
	return request{method: "POST", path: "/v1/auth/password/forgot", body: jsonObject("email", email)}
}

func resetPassword(tok, pw string) request {
	return request{method: "POST", path: "/v1/auth/password/reset",
		body: jsonObject("token", tok, "password", pw, "password_confirmation", pw)}
}

// mailedToken runs the outbox worker's half once and returns the token
// its mail would carry ("" if nothing is to be sent).
func (ts *testServer) mailedToken(t *testing.T) string {
	t.Helper()
	m, err := ts.svc.NextMail(t.Context())
	if errors.Is(err, auth.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatalf("NextMail = %v", err)
	}
	if err := ts.svc.MailDone(t.Context(), &m.Mail, nil); err != nil {
		t.Fatal(err)
	}
	return m.Token
}

func TestForgotPassword(t *testing.T) {
	t.Parallel()
	ts := newServer(t, serverOptions{})
	ts.register(t, "known@example.com", oldPassword)
	for _, email := range []string{"known@example.com", "unknown@example.com"} {
		wantBody(t, ts.do(t, forgot(email)), http.StatusAccepted, `"ok"`)
	}
	if tok := ts.mailedToken(t); tok == "" {
		t.Error("no reset mail for the known address")
	}
	if tok := ts.mailedToken(t); tok != "" {
		t.Error("a reset mail for the unknown address")
	}
	e := wantError(t, ts.do(t, forgot("not-an-address")), http.StatusUnprocessableEntity, "validation_failed")
	if e.Error != "Email is invalid" {
		t.Errorf("forgot(invalid) error = %q", e.Error)
	}
	wantError(t, ts.do(t, request{method: "POST", path: "/v1/auth/password/forgot", body: `{"email": 1}`}), http.StatusBadRequest, "bad_request")
}

func TestResetPassword(t *testing.T) {
	t.Parallel()
	ts := newServer(t, serverOptions{})
	old := ts.register(t, "a@example.com", oldPassword)
	wantBody(t, ts.do(t, forgot("a@example.com")), http.StatusAccepted, `"ok"`)
	tok := ts.mailedToken(t)

	e := wantError(t, ts.do(t, resetPassword(tok, "Sh0rt!")), http.StatusUnprocessableEntity, "validation_failed")
	if e.Error != "Password is too short (minimum is 8 characters)" {
		t.Errorf("reset with a short password: error %q", e.Error)
	}
	s := grantOf(t, ts.do(t, resetPassword(tok, newPassword)), http.StatusOK)
	ts.wantStatus(t, http.StatusOK, s.viaCookie("GET", "/v1/auth/me"))
	ts.wantStatus(t, http.StatusUnauthorized, old.viaCookie("GET", "/v1/auth/me"))
	ts.signIn(t, "a@example.com", newPassword)

	for name, tok := range map[string]string{"used": tok, "garbage": "abc", "empty": ""} {
		e := wantError(t, ts.do(t, resetPassword(tok, newPassword)), http.StatusUnprocessableEntity, "token_invalid")
		if e.Error != "Reset token is invalid or has expired" {
			t.Errorf("reset with a %s token: error %q", name, e.Error)
		}
	}
}
