package httpapi

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// handleSignOut: DELETE /v1/auth/sign_out → "ok", as the gem answers.
func (s *server) handleSignOut(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if err := s.svc.SignOut(r.Context(), p, s.client(r)); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	s.clearCookie(w)
	writeJSON(w, http.StatusOK, "ok")
}
