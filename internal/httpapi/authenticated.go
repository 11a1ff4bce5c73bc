package httpapi

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// authenticated wraps a handler that needs a signed-in caller. A request
// authenticated by the cookie must carry the session's CSRF token unless
// its method is safe; a header-authenticated one needs none (a browser
// never attaches that header on its own).
func (s *server) authenticated(h func(http.ResponseWriter, *http.Request, *auth.Principal)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cred, ok := s.credentialOf(r)
		if !ok {
			writeError(w, r, s.log, auth.ErrNotAuthorized)
			return
		}
		p, err := s.svc.Authenticate(r.Context(), cred.token)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if cred.fromCookie && !safeMethod(r.Method) && !p.ValidCSRF(r.Header.Get("X-CSRF-Token")) {
			writeError(w, r, s.log, auth.ErrCSRFInvalid)
			return
		}
		h(w, r, p)
	})
}

func (s *server) client(r *http.Request) auth.Client {
	ua := r.UserAgent()
	if len(ua) > 512 {
		ua = ua[:512]
	}
	ip, ok := s.clientAddr(r)
	if !ok {
		return auth.Client{UserAgent: ua}
	}
	return auth.Client{IP: ip.String(), Network: s.network(ip), UserAgent: ua}
}
