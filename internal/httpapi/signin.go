package httpapi

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// handleSignIn: POST /v1/auth/sign_in {"email", "password"}. Any
// Authorization header is ignored: signing in always starts a new session.
func (s *server) handleSignIn() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := readFields(r, "email", "password")
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		g, err := s.svc.SignIn(r.Context(), auth.Credentials{
			Email:    f["email"],
			Password: f["password"],
			Client:   s.device(r),
		})
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		s.writeDevice(w, r, g)
		s.writeGrant(w, r, http.StatusOK, g)
	})
}
