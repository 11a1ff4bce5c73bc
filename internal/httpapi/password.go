package httpapi

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// handleChangePassword: PUT /v1/auth/password {"current_password",
// "password", "password_confirmation"} → new credentials for this session;
// every other session of the user is revoked.
func (s *server) handleChangePassword(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	f, err := readFields(r, "current_password", "password", "password_confirmation")
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	g, err := s.svc.ChangePassword(r.Context(), p, auth.PasswordChange{
		CurrentPassword:      f["current_password"],
		Password:             f["password"],
		PasswordConfirmation: f["password_confirmation"],
		Client:               s.device(r),
	})
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	s.writeGrant(w, r, http.StatusOK, g)
}
