package browsertest

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// ServeFiles serves the files of dir on a new loopback port for the
// duration of t and returns the base URL, http://localhost:PORT.
//
// The host is localhost, not 127.0.0.1, and a test should address
// Gatehouse as localhost too: http://localhost is a secure context (so
// WebAuthn works over plain HTTP, and an IP address cannot be a relying
// party id), and two ports of one host are two origins but one site, the
// realistic case of an SPA on app.example.com calling auth.example.com,
// where a SameSite=Lax cookie flows. 127.0.0.1 and localhost are two sites.
func ServeFiles(t testing.TB, dir string) string {
	t.Helper()
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	return Localhost(t, srv.URL)
}

// Localhost returns rawURL (a server on 127.0.0.1) with the host localhost
// and the same port.
func Localhost(t testing.TB, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("parse %q: %v", rawURL, err)
	}
	u.Host = "localhost:" + u.Port()
	return u.String()
}
