package sqlite_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkRotateSession is one refresh: a compare-and-swap UPDATE and its
// durable (synchronous=FULL) commit.
func BenchmarkRotateSession(b *testing.B) {
	s := newStore(b)
	ctx := context.Background()
	mustCreateUser(b, s, "ada@example.com", "s1")
	var gen int64
	b.ReportAllocs()
	for b.Loop() {
		at := t0.Add(time.Duration(gen) * time.Second)
		if _, err := s.RotateSession(ctx, "s1", gen, at, at.Add(15*time.Minute)); err != nil {
			b.Fatalf("RotateSession(s1, %d) = %v", gen, err)
		}
		gen++
	}
}

// BenchmarkRotateSession_Parallel is many clients refreshing their own
// sessions at once: the throughput of the single writer.
func BenchmarkRotateSession_Parallel(b *testing.B) {
	s := newStore(b)
	ctx := context.Background()
	const users = 64
	for i := range users {
		mustCreateUser(b, s, fmt.Sprintf("user%d@example.com", i), fmt.Sprintf("s%d", i))
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		id := fmt.Sprintf("s%d", next.Add(1)-1)
		var gen int64
		for pb.Next() {
			at := t0.Add(time.Duration(gen) * time.Second)
			if _, err := s.RotateSession(ctx, id, gen, at, at.Add(15*time.Minute)); err != nil {
				b.Errorf("RotateSession(%s, %d) = %v", id, gen, err)
				return
			}
			gen++
		}
	})
}

// BenchmarkSession is the primary-key lookup behind every refresh.
func BenchmarkSession(b *testing.B) {
	s := newStore(b)
	ctx := context.Background()
	mustCreateUser(b, s, "ada@example.com", "s1")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Session(ctx, "s1"); err != nil {
			b.Fatalf("Session(s1) = %v", err)
		}
	}
}

// BenchmarkSession_Parallel spreads lookups over the reader pool.
func BenchmarkSession_Parallel(b *testing.B) {
	s := newStore(b)
	ctx := context.Background()
	mustCreateUser(b, s, "ada@example.com", "s1")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Session(ctx, "s1"); err != nil {
				b.Errorf("Session(s1) = %v", err)
				return
			}
		}
	})
}
