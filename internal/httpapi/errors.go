package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// statusOf is the one table from error code to HTTP status.
var statusOf = map[auth.Code]int{
	auth.CodeBadRequest:           http.StatusBadRequest,
	auth.CodeNotAuthorized:        http.StatusUnauthorized,
	auth.CodeTokenExpired:         http.StatusUnauthorized,
	auth.CodeCSRFInvalid:          http.StatusUnauthorized,
	auth.CodeInvalidCredentials:   http.StatusUnauthorized,
	auth.CodeTokenReused:          http.StatusUnauthorized,
	auth.CodeForbidden:            http.StatusForbidden,
	auth.CodeNotFound:             http.StatusNotFound,
	auth.CodeMethodNotAllowed:     http.StatusMethodNotAllowed,
	auth.CodePayloadTooLarge:      http.StatusRequestEntityTooLarge,
	auth.CodeUnsupportedMediaType: http.StatusUnsupportedMediaType,
	auth.CodeValidationFailed:     http.StatusUnprocessableEntity,
	auth.CodeRateLimited:          http.StatusTooManyRequests,
	auth.CodeUnavailable:          http.StatusServiceUnavailable,
	auth.CodeTokenInvalid:         http.StatusUnprocessableEntity,
	auth.CodeEmailUnconfirmed:     http.StatusForbidden,
	auth.CodeOutcomeUnknown:       http.StatusServiceUnavailable,
	auth.CodePositionExpired:      http.StatusGone,

	auth.CodeMFARequired:              http.StatusUnauthorized,
	auth.CodeReauthenticationRequired: http.StatusUnauthorized,
	auth.CodeInsufficientAAL:          http.StatusUnauthorized,
}

type errorBody struct {
	Error   string              `json:"error"`
	Code    auth.Code           `json:"code"`
	Details map[string][]string `json:"details,omitempty"`
}

// writeError writes err as the API's error body. Errors that are not an
// *auth.Error are unexpected: they are logged with their cause and the
// client gets a 503 that says nothing about internals. It is a method so
// that every 503 reaches the server's logger, which NewServer never
// leaves nil.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *auth.Error
	if !errors.As(err, &e) {
		if errors.Is(err, context.Canceled) {
			// The client went away; nobody reads this answer.
			return
		}
		e = auth.ErrUnavailable
	}
	status := statusOf[e.Code]
	if status == 0 {
		status = http.StatusServiceUnavailable
	}
	if status == http.StatusServiceUnavailable {
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	writeJSON(w, status, errorBody{Error: e.Message, Code: e.Code, Details: e.Details})
}

// errNotFound answers unknown routes and paths not in clean form.
var errNotFound = apiError(auth.CodeNotFound, "Not found")

// apiError builds an *auth.Error for the HTTP-level failures that never
// reach the domain.
func apiError(code auth.Code, msg string) *auth.Error {
	return &auth.Error{Code: code, Message: msg}
}
