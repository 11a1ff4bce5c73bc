package httpapi

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// handler is the one shape of an endpoint: it writes its success and
// returns its failure, which s.writeError alone turns into an answer, so
// no endpoint can write an error body of its own or forget to return after
// one. p is the signed-in caller on authenticated routes and nil on public
// ones; routes.go says which a route is.
type handler func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error

// public serves h to anyone.
func (s *server) public(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r, nil); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// authenticated serves h to a signed-in caller. A request authenticated by
// the cookie must carry the session's CSRF token unless its method is
// safe; a header-authenticated one needs none (a browser never attaches
// that header on its own). A sign-in still waiting for its second factor
// is refused (401 mfa_required): this is the one place that rule lives.
func (s *server) authenticated(h handler) http.Handler {
	return s.authenticatedIf(false, h)
}

// secondStep serves h to a signed-in caller whose sign-in may still be
// pending: the endpoints that finish a sign-in's second step, and
// sign-out. Everything else is authenticated.
func (s *server) secondStep(h handler) http.Handler {
	return s.authenticatedIf(true, h)
}

func (s *server) authenticatedIf(allowPending bool, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.authenticate(w, r, allowPending, h); err != nil {
			s.writeError(w, r, err)
		}
	})
}

func (s *server) authenticate(w http.ResponseWriter, r *http.Request, allowPending bool, h handler) error {
	cred, ok := s.credentialOf(r)
	if !ok {
		return auth.ErrNotAuthorized
	}
	p, err := s.svc.Authenticate(r.Context(), cred.token)
	if err != nil {
		return err
	}
	if cred.fromCookie && !safeMethod(r.Method) && !p.ValidCSRF(r.Header.Get("X-CSRF-Token")) {
		return auth.ErrCSRFInvalid
	}
	if p.Pending && !allowPending {
		return auth.ErrMFARequired
	}
	return h(w, r, p)
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
