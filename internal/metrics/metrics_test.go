package metrics

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestObserveRequestLabelsByRoutePattern(t *testing.T) {
	m := New(prometheus.NewRegistry(), Sources{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/auth/sessions/{id}", func(w http.ResponseWriter, r *http.Request) {})
	for _, req := range []struct{ method, path string }{
		{"GET", "/v1/auth/sessions/a"},
		{"GET", "/v1/auth/sessions/b"}, // same route: one series, not one per id
		{"BREW", "/coffee"},            // a made-up method must not become a label value
	} {
		r := httptest.NewRequest(req.method, req.path, nil)
		mux.ServeHTTP(httptest.NewRecorder(), r) // sets r.Pattern, as in the API
		m.ObserveRequest(r, http.StatusNotFound, time.Millisecond)
	}
	tests := []struct {
		route, method, status string
		want                  float64
	}{
		{"GET /v1/auth/sessions/{id}", "GET", "404", 2},
		{"unmatched", "other", "404", 1},
	}
	for _, tt := range tests {
		if got := testutil.ToFloat64(m.requests.WithLabelValues(tt.route, tt.method, tt.status)); got != tt.want {
			t.Errorf("requests{%s, %s, %s} = %v, want %v", tt.route, tt.method, tt.status, got, tt.want)
		}
	}
	if n := testutil.CollectAndCount(m.requests); n != 2 {
		t.Errorf("request series: got %d, want 2", n)
	}
}

func TestHandlerServesRuntimeMetrics(t *testing.T) {
	m := New(prometheus.NewRegistry(), Sources{})
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), "go_goroutines") {
		t.Error("GET /metrics lacks the Go runtime collector")
	}
}

func TestBuildInfo(t *testing.T) {
	reg := prometheus.NewRegistry()
	New(reg, Sources{Build: Build{Version: "v1.4.0", Commit: "0123abc", GoVersion: "go1.26.8"}})
	want := `
# HELP gatehouse_build_info Always 1; the labels name the running binary's version, VCS commit and Go version.
# TYPE gatehouse_build_info gauge
gatehouse_build_info{commit="0123abc",goversion="go1.26.8",version="v1.4.0"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gatehouse_build_info"); err != nil {
		t.Error(err)
	}
}

// BenchmarkObserveRequest is the metrics' share of every API request, from
// all cores at once as under load: one cached series, counted and timed.
func BenchmarkObserveRequest(b *testing.B) {
	m := New(prometheus.NewRegistry(), Sources{})
	r := httptest.NewRequest("GET", "/v1/auth/verify", nil)
	r.Pattern = "GET /v1/auth/verify"
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.ObserveRequest(r, http.StatusOK, 150*time.Microsecond)
		}
	})
	if got := testutil.ToFloat64(m.requests.WithLabelValues(r.Pattern, "GET", "200")); got != float64(b.N) {
		b.Fatalf("requests counted: got %v, want %d", got, b.N)
	}
}
