package auth_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/password"
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

// BenchmarkAuthenticateParallel is the hot path under every core at once,
// as a busy node serves it: many cached sessions, each goroutine verifying
// its own. Run with -cpu 1,2,4,8: the session cache must not make cores
// wait on one another (one lock for all sessions did).
func BenchmarkAuthenticateParallel(b *testing.B) {
	e := newEnv(b)
	const sessions = 32
	tokens := make([]string, sessions)
	for i := range tokens {
		g := e.register(b, fmt.Sprintf("user%d@example.com", i))
		mustAuth(b, e.svc, g.AccessToken)
		tokens[i] = g.AccessToken
	}
	ctx := context.Background()
	var next atomic.Uint32
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1))
		for pb.Next() {
			if _, err := e.svc.Authenticate(ctx, tokens[i%sessions]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkSignInParallel is a sign-in flood at 16 clients on 2 hash
// slots with the production argon2id parameters, as `gatehouse bench`'s
// sign_in at c=16 runs it minus HTTP: what a sign-in costs besides its
// hash. Compare with password's BenchmarkVerifyDefault (one hash) and
// profile with -cpuprofile.
func BenchmarkSignInParallel(b *testing.B) {
	e := newEnv(b, func(c *auth.Config) {
		c.Hasher = password.NewHasher(password.DefaultParams())
		c.HashLimiter = password.NewLimiter(2, time.Minute)
	})
	const users = 16
	for i := range users {
		e.register(b, fmt.Sprintf("user%d@example.com", i))
	}
	ctx := context.Background()
	var next atomic.Uint32
	b.ReportAllocs()
	b.ResetTimer()
	b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
	b.RunParallel(func(pb *testing.PB) {
		email := fmt.Sprintf("user%d@example.com", next.Add(1)%users)
		for pb.Next() {
			if _, err := e.svc.SignIn(ctx, auth.Credentials{Email: email, Password: testPassword, Client: testClient}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
