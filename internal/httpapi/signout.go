package httpapi

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// handleSignOut: DELETE /v1/auth/sign_out → "ok", as the gem answers.
func (s *server) handleSignOut(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if err := s.svc.SignOut(r.Context(), p, s.client(r)); err != nil {
		return err
	}
	s.clearCookie(w)
	writeOK(w, http.StatusOK)
	return nil
}
