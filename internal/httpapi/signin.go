package httpapi

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/auth"
)

type signInRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// handleSignIn: POST /v1/auth/sign_in {"email", "password"}. Any
// Authorization header is ignored: signing in always starts a new session.
func (s *server) handleSignIn(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	var req signInRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	g, err := s.svc.SignIn(r.Context(), auth.Credentials{
		Email:    req.Email,
		Password: req.Password,
		Client:   s.device(r),
	})
	if err != nil {
		return err
	}
	s.writeDevice(w, r, g)
	s.writeGrant(w, r, http.StatusOK, g)
	return nil
}
