package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/httpapi"
)

// TestOnRequest: the metrics hook sees each answer's status and the route
// pattern that served it, errors and the catch-all included.
func TestOnRequest(t *testing.T) {
	t.Parallel()
	type seen struct {
		pattern string
		status  int
	}
	var got []seen
	h := httpapi.NewServer(httpapi.Config{OnRequest: func(r *http.Request, status int, elapsed time.Duration) {
		if elapsed < 0 {
			t.Errorf("OnRequest(%s %s): elapsed %v", r.Method, r.URL.Path, elapsed)
		}
		got = append(got, seen{r.Pattern, status})
	}})
	tests := []struct {
		method, path string
		want         seen
	}{
		{"GET", "/healthz", seen{"GET /healthz", 200}},
		{"POST", "/healthz", seen{"/", 405}},
		{"GET", "/nowhere", seen{"/", 404}},
		{"GET", "/v1/auth/me", seen{"GET /v1/auth/me", 401}},
	}
	for _, tt := range tests {
		got = nil
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(tt.method, tt.path, nil))
		if len(got) != 1 || got[0] != tt.want {
			t.Errorf("%s %s: OnRequest saw %+v, want once %+v", tt.method, tt.path, got, tt.want)
		}
	}
}
