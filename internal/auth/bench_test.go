package auth_test

import (
	"context"
	"testing"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// BenchmarkAuthenticate is the hot path of every request: a valid token
// whose session is cached on this node (no store read).
func BenchmarkAuthenticate(b *testing.B) {
	e := newEnv(b)
	g := e.register(b, "ada@example.com")
	mustAuth(b, e.svc, g.AccessToken)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.svc.Authenticate(ctx, g.AccessToken); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRefresh rotates one session over and over: a session read and a
// compare-and-swap on SQLite (WAL, synchronous=FULL) in a temporary
// directory, plus signing the new token.
func BenchmarkRefresh(b *testing.B) {
	e := newEnv(b)
	g := e.register(b, "ada@example.com")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		next, err := e.svc.Refresh(ctx, auth.RefreshRequest{RefreshToken: g.RefreshToken})
		if err != nil {
			b.Fatal(err)
		}
		g = next
	}
}
