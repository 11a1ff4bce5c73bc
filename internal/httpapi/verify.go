package httpapi

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// handleVerify: GET /v1/auth/verify[?aal=N], for reverse proxies'
// forward-auth subrequests: 200 naming the user and session and how the
// session was authenticated in headers, or 401 (insufficient_aal for a
// session below the level asked for). The hot path of a forward-auth
// deployment: the header values share one allocation, and the names are
// assigned already canonical.
func (s *server) handleVerify(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	aal := p.AAL()
	// Parsed only when present: parsing builds a map, and most calls
	// carry no query.
	if r.URL.RawQuery != "" {
		if err := requireAAL(r.URL.Query(), aal); err != nil {
			return err
		}
	}
	vals := []string{strconv.FormatInt(p.UserID, 10), p.SessionID, strconv.Itoa(aal), auth.FormatMethods(p.Methods)}
	h := w.Header()
	h["X-User-Id"] = vals[0:1:1]
	h["X-Session-Id"] = vals[1:2:2]
	h["X-Auth-Aal"] = vals[2:3:3]
	h["X-Auth-Methods"] = vals[3:4:4]
	writeOK(w, http.StatusOK)
	return nil
}

// requireAAL checks the aal a verify call may ask for against the
// session's.
func requireAAL(q url.Values, aal int) error {
	if !q.Has("aal") {
		return nil
	}
	want, err := strconv.Atoi(q.Get("aal"))
	if err != nil || want < 1 || want > 2 {
		return apiError(auth.CodeBadRequest, "Query parameter aal must be 1 or 2")
	}
	if aal < want {
		return auth.ErrInsufficientAAL
	}
	return nil
}
