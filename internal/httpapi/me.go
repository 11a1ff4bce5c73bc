package httpapi

import (
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
)

type meResponse struct {
	ID        int64  `json:"id"`
	Email     string `json:"email"`
	CreatedAt string `json:"created_at"`
}

// handleMe: GET /v1/auth/me → the signed-in user.
func (s *server) handleMe(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	u, err := s.svc.Me(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, meResponse{ID: u.ID, Email: u.Email, CreatedAt: u.CreatedAt.UTC().Format(time.RFC3339)})
	return nil
}
