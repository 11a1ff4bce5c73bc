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

// mailedToken runs the outbox worker's half until nothing is due and
// returns the token of the last mail of kind ("" if none).
func (ts *testServer) mailedToken(t *testing.T, kind auth.MailKind) string {
	t.Helper()
	var tok string
	for {
		m, err := ts.svc.NextMail(t.Context())
		if errors.Is(err, auth.ErrNotFound) {
			return tok
		}
		if err != nil {
			t.Fatalf("NextMail = %v", err)
		}
		if err := ts.svc.MailDone(t.Context(), &m.Mail, nil); err != nil {
			t.Fatal(err)
		}
		if m.Kind == kind {
			tok = m.Token
		}
	}
}

func TestForgotPassword(t *testing.T) {
	t.Parallel()
	ts := newServer(t, serverOptions{})
	ts.register(t, "known@example.com", oldPassword)
	ts.mailedToken(t, auth.KindConfirmEmail)
	wantBody(t, ts.do(t, forgot("unknown@example.com")), http.StatusAccepted, `"ok"`)
	if tok := ts.mailedToken(t, auth.KindPasswordReset); tok != "" {
		t.Error("a reset mail for the unknown address")
	}
	wantBody(t, ts.do(t, forgot("known@example.com")), http.StatusAccepted, `"ok"`)
	if tok := ts.mailedToken(t, auth.KindPasswordReset); tok == "" {
		t.Error("no reset mail for the known address")
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
	tok := ts.mailedToken(t, auth.KindPasswordReset)

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
