package httpapi

import (
	_ "embed"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// openAPIDocument describes every endpoint, header, cookie, body and error
// of this package. The scenario tests validate each request and response
// they make against it, so an answer it does not describe fails the build.
//
//go:embed openapi.json
var openAPIDocument []byte

// handleOpenAPI: GET /openapi.json, for client generators and API browsers.
func (s *server) handleOpenAPI(w http.ResponseWriter, _ *http.Request, _ *auth.Principal) error {
	w.Header()["Content-Type"] = jsonContentType
	w.Write(openAPIDocument)
	return nil
}
