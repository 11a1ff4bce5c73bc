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
	authLevel
}

// authLevel says how a session was authenticated: the methods of its
// sign-in, its AAL (1 password, 2 with a second factor or a passkey) and
// its last proof of its user (sign-in or step-up).
type authLevel struct {
	Methods         []auth.Method `json:"methods"`
	AAL             int           `json:"aal"`
	AuthenticatedAt string        `json:"authenticated_at"`
}

func authLevelOf(methods []auth.Method, at time.Time) authLevel {
	return authLevel{Methods: methods, AAL: auth.AAL(methods), AuthenticatedAt: at.UTC().Format(time.RFC3339)}
}

// handleMe: GET /v1/auth/me → the signed-in user.
func (s *server) handleMe(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	u, err := s.svc.Me(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, meResponse{
		ID: u.ID, Email: u.Email, CreatedAt: u.CreatedAt.UTC().Format(time.RFC3339),
		authLevel: authLevelOf(p.Methods, p.AuthenticatedAt),
	})
	return nil
}
