package httpapi

import (
	"net/http"
	"strconv"
	"time"
)

// handleJWKS serves the public keys of the signing ring (RFC 7517), the
// one cacheable response: verifiers poll it, and a short max-age bounds
// how long one of them can miss a new key. The key ring publishes a key
// for longer than that before it signs (keyring.PublishDelay).
func handleJWKS(jwks func() []byte, maxAge time.Duration) http.Handler {
	cacheControl := []string{"public, max-age=" + strconv.Itoa(int(maxAge.Seconds()))}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := jwks()
		h := w.Header()
		h["Cache-Control"] = cacheControl
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	})
}
