package httpapi

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/auth"
)

type registerRequest struct {
	Email                string `json:"email"`
	Password             string `json:"password"`
	PasswordConfirmation string `json:"password_confirmation"`
}

// handleRegister: POST /v1/auth {"email", "password", "password_confirmation"}.
func (s *server) handleRegister(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	var req registerRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	g, err := s.svc.Register(r.Context(), auth.Registration{
		Email:                req.Email,
		Password:             req.Password,
		PasswordConfirmation: req.PasswordConfirmation,
		Client:               s.client(r),
	})
	if err != nil {
		return err
	}
	if g == nil { // --require-email-confirmation: no session yet
		writeOK(w, http.StatusCreated)
		return nil
	}
	s.writeGrant(w, r, http.StatusCreated, g)
	return nil
}
