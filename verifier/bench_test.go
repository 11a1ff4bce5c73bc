package verifier_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/verifier"
)

// BenchmarkMiddleware is the verifier's cost per request against a bare
// handler (BenchmarkBareHandler): HS256 signature, claims, the revocation
// lookup, the context value. The verifier follows a real Gatehouse that
// has revoked other sessions, so the lookup searches a populated map.
func BenchmarkMiddleware(b *testing.B) {
	g, secret := newGatehouse(b, nil)
	d := startDownstream(b, g.url(), secret)
	sessions := g.signIns(b, "bench@example.com", 101)
	for _, s := range sessions[1:] {
		g.call(b, "DELETE", "/v1/auth/sign_out", s.Access, nil, nil)
	}
	waitFor(b, "sign-outs downstream", 5*time.Second, func() bool { return revoked(d.v, sessions[100].Access) })
	h := d.v.Middleware(bare)
	benchHandler(b, h, sessions[0].Access)
}

// BenchmarkBareHandler is the handler alone, the baseline.
func BenchmarkBareHandler(b *testing.B) {
	benchHandler(b, bare, "x.y.z")
}

var bare = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if p, ok := verifier.FromContext(r.Context()); ok && p.UserID == 0 {
		panic("principal without a user")
	}
	w.WriteHeader(http.StatusNoContent)
})

func benchHandler(b *testing.B, h http.Handler, access string) {
	req := httptest.NewRequestWithContext(context.Background(), "GET", "/", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusNoContent {
			b.Fatalf("status %d", w.Code)
		}
	}
}
