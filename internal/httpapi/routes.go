package httpapi

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/passkey"
)

// routes is the whole API on one page. bounded marks the endpoints that
// wait on the database (or a hash slot) and so carry the request deadline;
// /verify and /me are answered from the session cache, and the database
// read of a cache miss has a timeout of its own.
func (s *server) register(mux *http.ServeMux) {
	// The seed's endpoints (jwt_sessions-compatible).
	mux.Handle("POST /v1/auth", s.bounded(s.public(s.handleRegister)))
	mux.Handle("POST /v1/auth/sign_in", s.bounded(s.public(s.handleSignIn)))
	mux.Handle("DELETE /v1/auth/sign_out", s.bounded(s.secondStep(s.handleSignOut)))

	// Tokens and the current user.
	mux.Handle("POST /v1/auth/refresh", s.bounded(s.public(s.handleRefresh)))
	mux.Handle("GET /v1/auth/me", s.authenticated(s.handleMe))

	// Session management.
	mux.Handle("GET /v1/auth/sessions", s.bounded(s.authenticated(s.handleListSessions)))
	mux.Handle("DELETE /v1/auth/sessions", s.bounded(s.authenticated(s.handleRevokeSessions)))
	mux.Handle("DELETE /v1/auth/sessions/{id}", s.bounded(s.authenticated(s.handleRevokeSession)))
	mux.Handle("PUT /v1/auth/password", s.bounded(s.authenticated(s.handleChangePassword)))

	// Account recovery and the address: a mailed token is the credential
	// of forgot's reset and of confirm.
	mux.Handle("POST /v1/auth/password/forgot", s.bounded(s.public(s.handleForgotPassword)))
	mux.Handle("POST /v1/auth/password/reset", s.bounded(s.public(s.handleResetPassword)))
	mux.Handle("POST /v1/auth/email/confirm", s.bounded(s.public(s.handleConfirmEmail)))
	mux.Handle("POST /v1/auth/email/confirm/resend", s.bounded(s.authenticated(s.handleResendConfirmation)))
	mux.Handle("PUT /v1/auth/email", s.bounded(s.authenticated(s.handleChangeEmail)))

	// Passkeys (WebAuthn).
	mux.Handle("POST /v1/auth/passkeys/register/begin", s.bounded(s.authenticated(s.passkeys(handleBeginPasskeyRegistration))))
	mux.Handle("POST /v1/auth/passkeys/register/finish", s.bounded(s.authenticated(s.passkeys(s.handleFinishPasskeyRegistration))))
	mux.Handle("GET /v1/auth/passkeys", s.bounded(s.authenticated(s.passkeys(handleListPasskeys))))
	mux.Handle("PUT /v1/auth/passkeys/{id}", s.bounded(s.authenticated(s.passkeys(s.handleRenamePasskey))))
	mux.Handle("DELETE /v1/auth/passkeys/{id}", s.bounded(s.authenticated(s.passkeys(s.handleDeletePasskey))))
	mux.Handle("POST /v1/auth/passkeys/sign_in/begin", s.bounded(s.public(s.passkeys(s.handleBeginPasskeySignIn))))
	mux.Handle("POST /v1/auth/passkeys/sign_in/finish", s.bounded(s.public(s.passkeys(s.handleFinishPasskeySignIn))))
	mux.Handle("POST /v1/auth/passkeys/second_factor/begin", s.bounded(s.secondStep(s.passkeys(handleBeginPasskeyAssertion(passkey.KindSecondFactor)))))
	mux.Handle("POST /v1/auth/passkeys/second_factor/finish", s.bounded(s.secondStep(s.passkeys(s.handleFinishPasskeySecondFactor))))
	mux.Handle("POST /v1/auth/passkeys/reauthenticate/begin", s.bounded(s.authenticated(s.passkeys(handleBeginPasskeyAssertion(passkey.KindStepUp)))))
	mux.Handle("POST /v1/auth/passkeys/reauthenticate/finish", s.bounded(s.authenticated(s.passkeys(s.handleFinishPasskeyStepUp))))
	// Second factors: what the caller has, TOTP, recovery codes; finishing
	// a pending sign-in (allowed while pending); step-up.
	if s.mfa != nil {
		mux.Handle("GET /v1/auth/mfa", s.bounded(s.authenticated(s.handleMFAStatus)))
		mux.Handle("POST /v1/auth/mfa/totp", s.bounded(s.authenticated(s.handleEnrolTOTP)))
		mux.Handle("POST /v1/auth/mfa/totp/confirm", s.bounded(s.authenticated(s.handleConfirmTOTP)))
		mux.Handle("DELETE /v1/auth/mfa/totp", s.bounded(s.authenticated(s.handleDisableTOTP)))
		mux.Handle("POST /v1/auth/mfa/recovery_codes", s.bounded(s.authenticated(s.handleRecoveryCodes)))
		mux.Handle("POST /v1/auth/mfa/verify", s.bounded(s.secondStep(s.handleMFAVerify)))
		mux.Handle("POST /v1/auth/reauthenticate", s.bounded(s.authenticated(s.handleReauthenticate)))
	}

	// For reverse proxies (nginx auth_request and the like).
	mux.Handle("GET /v1/auth/verify", s.authenticated(s.handleVerify))

	// For services that verify tokens themselves: revocations as they
	// commit (Server-Sent Events, service tokens only) and public keys.
	mux.Handle("GET /v1/auth/revocations", s.public(s.handleRevocations))
	if s.jwks != nil {
		mux.Handle("GET /.well-known/jwks.json", s.jwks)
	}

	// Operations.
	mux.Handle("GET /healthz", s.public(s.handleHealthz))
	mux.Handle("GET /readyz", s.bounded(s.public(s.handleReadyz)))
	mux.Handle("GET /openapi.json", s.public(s.handleOpenAPI))
	// No /metrics here: its counters tell unknown_email from wrong_password,
	// so it is served only on its own listener (--metrics-addr).
}

// routes serves the API, answering everything else with a JSON 404 or
// 405. A second copy of the routes, without the catch-all, tells which
// (consulted only on that error path).
func (s *server) routes() http.Handler {
	api, plain := http.NewServeMux(), http.NewServeMux()
	s.register(api)
	s.register(plain)
	api.Handle("/", s.jsonNotFound(plain))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if uncleanPath(r.URL.Path) {
			s.writeError(w, r, errNotFound)
			return
		}
		api.ServeHTTP(w, r)
	})
}
