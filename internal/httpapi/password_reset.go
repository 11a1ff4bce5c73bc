package httpapi

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// handleForgotPassword: POST /v1/auth/password/forgot {"email"} → 202
// "ok" for every valid address, known or not; the mail, if any, is queued.
func (s *server) handleForgotPassword() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := readFields(r, "email")
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if err := s.svc.ForgotPassword(r.Context(), f["email"], s.client(r)); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusAccepted, "ok")
	})
}

// handleResetPassword: POST /v1/auth/password/reset {"token", "password",
// "password_confirmation"} → 200 with a new session, as sign-in. The
// token is the credential: no session is needed, and any sent is ignored.
func (s *server) handleResetPassword() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := readFields(r, "token", "password", "password_confirmation")
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		g, err := s.svc.ResetPassword(r.Context(), auth.PasswordReset{
			Token:                f["token"],
			Password:             f["password"],
			PasswordConfirmation: f["password_confirmation"],
			Client:               s.client(r),
		})
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		s.writeGrant(w, r, http.StatusOK, g)
	})
}
