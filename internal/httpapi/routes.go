package httpapi

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// routes is the whole API on one page.
func (s *server) register(mux *http.ServeMux) {

	// The seed's endpoints (jwt_sessions-compatible).
	mux.Handle("POST /v1/auth", s.handleRegister())
	mux.Handle("POST /v1/auth/sign_in", s.handleSignIn())
	mux.Handle("DELETE /v1/auth/sign_out", s.authenticated(s.handleSignOut))

	// Tokens and the current user.
	mux.Handle("POST /v1/auth/refresh", s.handleRefresh())
	mux.Handle("GET /v1/auth/me", s.authenticated(s.handleMe))

	// Session management.
	mux.Handle("GET /v1/auth/sessions", s.authenticated(s.handleListSessions))
	mux.Handle("DELETE /v1/auth/sessions", s.authenticated(s.handleRevokeSessions))
	mux.Handle("DELETE /v1/auth/sessions/{id}", s.authenticated(s.handleRevokeSession))
	mux.Handle("PUT /v1/auth/password", s.authenticated(s.handleChangePassword))

	// For reverse proxies (nginx auth_request and the like).
	mux.Handle("GET /v1/auth/verify", s.authenticated(s.handleVerify))

	// Operations.
	mux.Handle("GET /healthz", s.handleHealthz())
	mux.Handle("GET /readyz", s.handleReadyz())
	if s.metrics != nil {
		mux.Handle("GET /metrics", s.metrics)
	}

}

// routes serves the API, answering everything else with a JSON 404 or
// 405. A second copy of the routes, without the catch-all, tells which
// (consulted only on that error path).
func (s *server) routes() http.Handler {
	api, plain := http.NewServeMux(), http.NewServeMux()
	s.register(api)
	s.register(plain)
	api.Handle("/", jsonNotFound(plain))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if uncleanPath(r.URL.Path) {
			writeError(w, r, nil, apiError(auth.CodeNotFound, "Not found"))
			return
		}
		api.ServeHTTP(w, r)
	})
}
