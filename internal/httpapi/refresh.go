package httpapi

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// handleRefresh: POST /v1/auth/refresh with X-Refresh-Token, or the access
// token (expired or not) in the Authorization header, or in the cookie
// together with X-CSRF-Token.
func (s *server) handleRefresh(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	req := auth.RefreshRequest{Client: s.client(r)}
	if rt := r.Header.Get("X-Refresh-Token"); rt != "" {
		req.RefreshToken = rt
	} else if cred, ok := s.credentialOf(r); ok {
		req.AccessToken = cred.token
		req.CheckCSRF = cred.fromCookie
		req.CSRFToken = r.Header.Get("X-CSRF-Token")
	} else {
		return auth.ErrNotAuthorized
	}
	g, err := s.svc.Refresh(r.Context(), req)
	if err != nil {
		return err
	}
	s.writeGrant(w, r, http.StatusOK, g)
	return nil
}
