package httpapi

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/auth"
)

type changePasswordRequest struct {
	CurrentPassword      string `json:"current_password"`
	Password             string `json:"password"`
	PasswordConfirmation string `json:"password_confirmation"`
}

// handleChangePassword: PUT /v1/auth/password {"current_password",
// "password", "password_confirmation"} → new credentials for this session;
// every other session of the user is revoked.
func (s *server) handleChangePassword(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var req changePasswordRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	g, err := s.svc.ChangePassword(r.Context(), p, auth.PasswordChange{
		CurrentPassword:      req.CurrentPassword,
		Password:             req.Password,
		PasswordConfirmation: req.PasswordConfirmation,
		Client:               s.device(r),
	})
	if err != nil {
		return err
	}
	s.writeGrant(w, r, http.StatusOK, g)
	return nil
}
