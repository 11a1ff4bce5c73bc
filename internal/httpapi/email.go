package httpapi

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// handleConfirmEmail: POST /v1/auth/email/confirm {"token"} → 200 "ok".
// The token is the credential: no session is needed.
func (s *server) handleConfirmEmail() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := readFields(r, "token")
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if err := s.svc.ConfirmEmail(r.Context(), f["token"], s.client(r)); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusOK, "ok")
	})
}

// handleResendConfirmation: POST /v1/auth/email/confirm/resend → 202
// "ok"; any body is ignored.
func (s *server) handleResendConfirmation(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if err := s.svc.ResendConfirmation(r.Context(), p, s.client(r)); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusAccepted, "ok")
}

// handleChangeEmail: PUT /v1/auth/email {"email", "current_password"} →
// 202 "ok"; the address changes when the mailed link is used.
func (s *server) handleChangeEmail(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	f, err := readFields(r, "email", "current_password")
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	err = s.svc.ChangeEmail(r.Context(), p, auth.EmailChange{
		Email: f["email"], CurrentPassword: f["current_password"], Client: s.client(r),
	})
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusAccepted, "ok")
}
