package httpapi

import "net/http"

// routes is the whole API on one page.
func (s *server) routes() http.Handler {
	mux := http.NewServeMux()

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

	return jsonNotFound(mux)
}
