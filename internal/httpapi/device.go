package httpapi

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// The device token (auth/device.go) travels in its own cookie for cookie
// clients and in the X-Device-Token header, both ways, for header
// clients; never in a response body, whose shape the seed fixes.
const (
	deviceCookie = "gatehouse_device"
	deviceHeader = "X-Device-Token"
	// deviceMaxAge: a device stays known for a year of not signing in.
	deviceMaxAge = 365 * 24 * 60 * 60
)

// device returns the client of r with the device token it sent, if any.
func (s *server) device(r *http.Request) auth.Client {
	c := s.client(r)
	c.Device = r.Header.Get(deviceHeader)
	if ck, err := r.Cookie(deviceCookie); c.Device == "" && err == nil {
		c.Device = ck.Value
	}
	return c
}

// writeDevice hands a grant's device token back the way the client sent
// its credentials. The cookie is scoped to /v1/auth (only sign-in and
// password change read it) and Strict, since a same-site app never needs
// it cross-site; an app on another site (--cookie-samesite none) sends
// every call cross-site, so there it is None like the access cookie.
func (s *server) writeDevice(w http.ResponseWriter, r *http.Request, g *auth.Grant) {
	if g.DeviceToken == "" {
		return
	}
	if tokenTransport(r) {
		w.Header().Set(deviceHeader, g.DeviceToken)
		return
	}
	sameSite := http.SameSiteStrictMode
	if s.cookieSameSite == http.SameSiteNoneMode {
		sameSite = http.SameSiteNoneMode
	}
	http.SetCookie(w, &http.Cookie{
		Name:     deviceCookie,
		Value:    g.DeviceToken,
		Path:     "/v1/auth",
		MaxAge:   deviceMaxAge,
		HttpOnly: true,
		Secure:   s.cookieSecure,
		SameSite: sameSite,
	})
}
