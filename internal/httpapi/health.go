package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
)

type statusBody struct {
	Status string `json:"status"`
}

// handleHealthz: the process is alive and serving.
func (s *server) handleHealthz(w http.ResponseWriter, _ *http.Request, _ *auth.Principal) error {
	writeJSON(w, http.StatusOK, statusBody{Status: "ok"})
	return nil
}

// handleReadyz: storage is reachable and migrated, so a load balancer may
// send traffic here.
func (s *server) handleReadyz(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	if err := s.ready(r.Context()); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, statusBody{Status: "ok"})
	return nil
}

// errShuttingDown is the answer to requests that arrive once shutdown
// began.
var errShuttingDown = &auth.Error{Code: auth.CodeUnavailable, Message: "Service shutting down", RetryAfter: time.Second}

// RefuseWhileDraining answers every request with 503, Retry-After and
// "Connection: close" once draining reports true (SIGTERM), and passes
// requests to next until then. A node that stops must refuse, not drop:
// a request that reaches a keep-alive connection the server is about to
// close, or a connection accepted but never read, is lost without an
// answer, and the client cannot tell whether it was done. Answering for a
// while before the listener closes turns those into clean 503s that name
// when to retry (elsewhere, through the load balancer) and close the
// connection, so no idle keep-alive connection is left for a close to
// race with.
func RefuseWhileDraining(draining func() bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !draining() {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Connection", "close")
		w.Header().Set("Retry-After", strconv.Itoa(int(errShuttingDown.RetryAfter/time.Second)))
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: errShuttingDown.Message, Code: errShuttingDown.Code})
	})
}
