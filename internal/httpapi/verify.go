package httpapi

import (
	"net/http"
	"strconv"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// handleVerify: GET /v1/auth/verify, for reverse proxies' forward-auth
// subrequests: 200 naming the user and session in headers, or 401.
func (s *server) handleVerify(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	w.Header().Set("X-User-Id", strconv.FormatInt(p.UserID, 10))
	w.Header().Set("X-Session-Id", p.SessionID)
	writeJSON(w, http.StatusOK, "ok")
}
