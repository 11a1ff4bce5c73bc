package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse/gatehouse/internal/httpapi"
)

// Once draining, every request is refused cleanly: a 503 that says when to
// retry and closes the connection, so no keep-alive connection is left for
// the closing listener to drop a request on.
func TestRefuseWhileDraining(t *testing.T) {
	t.Parallel()
	draining := false
	h := httpapi.RefuseWhileDraining(func() bool { return draining }, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	for _, tt := range []struct {
		name     string
		draining bool
		want     int
	}{
		{name: "serving", want: http.StatusTeapot},
		{name: "draining", draining: true, want: http.StatusServiceUnavailable},
	} {
		draining = tt.draining
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/auth/sign_in", nil))
		if rec.Code != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, rec.Code, tt.want)
		}
		if !tt.draining {
			continue
		}
		var body struct{ Error, Code string }
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Code != "unavailable" {
			t.Errorf("%s: body %q (%v), want code unavailable", tt.name, rec.Body.String(), err)
		}
		for name, want := range map[string]string{"Retry-After": "1", "Connection": "close"} {
			if got := rec.Header().Get(name); got != want {
				t.Errorf("%s: %s = %q, want %q", tt.name, name, got, want)
			}
		}
	}
}
