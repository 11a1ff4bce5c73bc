package httpapi

import (
	_ "embed"
	"net/http"
)

// openAPIDocument describes every endpoint, header, cookie, body and error
// of this package. The scenario tests validate each request and response
// they make against it, so an answer it does not describe fails the build.
//
//go:embed openapi.json
var openAPIDocument []byte

// handleOpenAPI: GET /openapi.json, for client generators and API browsers.
func (s *server) handleOpenAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(openAPIDocument)
	})
}
