package httpapi

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/auth"
)

type forgotPasswordRequest struct {
	Email string `json:"email"`
}

// handleForgotPassword: POST /v1/auth/password/forgot {"email"} → 202
// "ok" for every valid address, known or not; the mail, if any, is queued.
func (s *server) handleForgotPassword(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	var req forgotPasswordRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	if err := s.svc.ForgotPassword(r.Context(), req.Email, s.client(r)); err != nil {
		return err
	}
	writeOK(w, http.StatusAccepted)
	return nil
}

type resetPasswordRequest struct {
	Token                string `json:"token"`
	Password             string `json:"password"`
	PasswordConfirmation string `json:"password_confirmation"`
}

// handleResetPassword: POST /v1/auth/password/reset {"token", "password",
// "password_confirmation"} → 200 with a new session, as sign-in. The
// token is the credential: no session is needed, and any sent is ignored.
func (s *server) handleResetPassword(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	var req resetPasswordRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	g, err := s.svc.ResetPassword(r.Context(), auth.PasswordReset{
		Token:                req.Token,
		Password:             req.Password,
		PasswordConfirmation: req.PasswordConfirmation,
		Client:               s.client(r),
	})
	if err != nil {
		return err
	}
	s.writeGrant(w, r, http.StatusOK, g)
	return nil
}
