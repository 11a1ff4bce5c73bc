package httpapi

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/auth"
)

type confirmEmailRequest struct {
	Token string `json:"token"`
}

// handleConfirmEmail: POST /v1/auth/email/confirm {"token"} → 200 "ok".
// The token is the credential: no session is needed.
func (s *server) handleConfirmEmail(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	var req confirmEmailRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	if err := s.svc.ConfirmEmail(r.Context(), req.Token, s.client(r)); err != nil {
		return err
	}
	writeOK(w, http.StatusOK)
	return nil
}

// handleResendConfirmation: POST /v1/auth/email/confirm/resend → 202
// "ok"; any body is ignored.
func (s *server) handleResendConfirmation(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if err := s.svc.ResendConfirmation(r.Context(), p, s.client(r)); err != nil {
		return err
	}
	writeOK(w, http.StatusAccepted)
	return nil
}

type changeEmailRequest struct {
	Email           string `json:"email"`
	CurrentPassword string `json:"current_password"`
}

// handleChangeEmail: PUT /v1/auth/email {"email", "current_password"} →
// 202 "ok"; the address changes when the mailed link is used.
func (s *server) handleChangeEmail(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var req changeEmailRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	err := s.svc.ChangeEmail(r.Context(), p, auth.EmailChange{
		Email: req.Email, CurrentPassword: req.CurrentPassword, Client: s.client(r),
	})
	if err != nil {
		return err
	}
	writeOK(w, http.StatusAccepted)
	return nil
}
