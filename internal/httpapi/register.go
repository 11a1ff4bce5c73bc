package httpapi

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// handleRegister: POST /v1/auth {"email", "password", "password_confirmation"}.
func (s *server) handleRegister() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := readFields(r, "email", "password", "password_confirmation")
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		g, err := s.svc.Register(r.Context(), auth.Registration{
			Email:                f["email"],
			Password:             f["password"],
			PasswordConfirmation: f["password_confirmation"],
			Client:               s.client(r),
		})
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if g == nil { // --require-email-confirmation: no session yet
			writeJSON(w, http.StatusCreated, "ok")
			return
		}
		s.writeGrant(w, r, http.StatusCreated, g)
	})
}
