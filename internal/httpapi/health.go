package httpapi

import "net/http"

type statusBody struct {
	Status string `json:"status"`
}

// handleHealthz: the process is alive and serving.
func (s *server) handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, statusBody{Status: "ok"})
	})
}

// handleReadyz: storage is reachable and migrated, so a load balancer may
// send traffic here.
func (s *server) handleReadyz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.ready(r.Context()); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		writeJSON(w, http.StatusOK, statusBody{Status: "ok"})
	})
}
