package auth

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
)

// The states a node can learn about a session, in the shapes the Service
// produces them: a load or grant (loaded), a rotation announced by another
// node (stub, see SessionChanged), a revocation (revokedAt).
func loaded(gen int64) *cachedSession {
	return &cachedSession{gen: gen, accessID: fmt.Sprint("uid-", gen), email: "ada@example.com"}
}
func stubAt(gen int64) *cachedSession    { return &cachedSession{gen: gen, stub: true} }
func revokedAt(gen int64) *cachedSession { return &cachedSession{gen: gen, revoked: true} }

func TestSessionCacheMerge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		old, e       *cachedSession // old nil: nothing cached yet
		wantReplaced bool
	}{
		{"EmptyTakesLoad", nil, loaded(0), true},
		{"EmptyTakesStub", nil, stubAt(3), true},
		{"EmptyTakesRevocation", nil, revokedAt(0), true},
		{"RevokedIsFinalAgainstHigherLoad", revokedAt(0), loaded(9), false},
		{"RevokedIsFinalAgainstStub", revokedAt(0), stubAt(9), false},
		{"RevokedIsFinalAgainstRevocation", revokedAt(0), revokedAt(5), false},
		{"RevocationBeatsHigherLoad", loaded(9), revokedAt(0), true},
		{"RevocationBeatsStub", stubAt(9), revokedAt(0), true},
		{"HigherGenWins", loaded(1), loaded(2), true},
		{"LowerGenLoses", loaded(2), loaded(1), false},
		{"EqualGenKeepsLoaded", loaded(2), loaded(2), false},
		{"StubAheadReplacesLoad", loaded(2), stubAt(3), true},
		{"StubAtSameGenKeepsLoad", loaded(2), stubAt(2), false},
		{"StubBehindKeepsLoad", loaded(2), stubAt(1), false},
		{"LoadAtStubGenReplacesStub", stubAt(3), loaded(3), true},
		{"LoadPastStubReplacesStub", stubAt(3), loaded(4), true},
		{"StaleLoadKeepsStub", stubAt(3), loaded(2), false},
		{"LaterStubReplacesStub", stubAt(3), stubAt(4), true},
		{"EarlierStubKeepsStub", stubAt(3), stubAt(2), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newSessionCache(10)
			if tt.old != nil {
				c.merge("s", tt.old)
			}
			want := tt.old
			if tt.wantReplaced {
				want = tt.e
			}
			if got := c.merge("s", tt.e); got != want {
				t.Errorf("merge(%+v over %+v) = %+v, want %+v", tt.e, tt.old, got, want)
			}
			if got, ok := c.get("s"); !ok || got != want {
				t.Errorf("get after merge(%+v over %+v) = %+v, %t; want %+v", tt.e, tt.old, got, ok, want)
			}
		})
	}
}

// Whatever order the states of one session arrive in, the cache ends at the
// same state: the revocation if there was one, else the newest load.
func TestSessionCacheMergeOrderIndependent(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, withRevocation := range []bool{false, true} {
		states := []*cachedSession{loaded(0), loaded(1), stubAt(2), loaded(2), stubAt(4), loaded(3), loaded(4), loaded(5)}
		want := states[len(states)-1]
		if withRevocation {
			want = revokedAt(1)
			states = append(states, want)
		}
		for range 200 {
			rng.Shuffle(len(states), func(i, j int) { states[i], states[j] = states[j], states[i] })
			c := newSessionCache(10)
			for _, e := range states {
				c.merge("s", e)
			}
			if got, _ := c.get("s"); got != want {
				t.Fatalf("after merging %s: get = %+v, want %+v", describe(states), got, want)
			}
		}
	}
}

func describe(states []*cachedSession) string {
	s := ""
	for _, e := range states {
		s += fmt.Sprintf("{gen %d stub %t revoked %t} ", e.gen, e.stub, e.revoked)
	}
	return s
}

func TestSessionCacheBounded(t *testing.T) {
	t.Parallel()
	for _, max := range []int{1, 2, 10, 100} {
		c := newSessionCache(max)
		for i := range 10 * max {
			id := fmt.Sprint("s", i)
			c.merge(id, loaded(0))
			if n := c.len(); n > max {
				t.Fatalf("newSessionCache(%d): %d entries after %d merges", max, n, i+1)
			}
			// The entry just stored survives its own eviction round.
			if _, ok := c.get(id); !ok {
				t.Fatalf("newSessionCache(%d): get(%q) right after merge missing", max, id)
			}
		}
	}
}

func TestSessionCacheReset(t *testing.T) {
	t.Parallel()
	c := newSessionCache(100)
	for i := range 5 {
		c.merge(fmt.Sprint("s", i), loaded(0))
	}
	c.merge("revoked", revokedAt(0))
	c.reset()
	if n := c.len(); n != 0 {
		t.Errorf("after reset: %d entries, want 0", n)
	}
	// A reset forgets revocations too: the store, which has them, decides.
	if _, ok := c.get("revoked"); ok {
		t.Error("after reset: get(revoked) found an entry")
	}
}

// The epoch rule holds in every shard: a store read that began before a
// reset is refused wherever its session lands, and one that began after it
// is kept. Under -race, resets racing stale reads never leave one behind.
func TestSessionCacheResetRefusesEarlierReadsInEveryShard(t *testing.T) {
	t.Parallel()
	c := newSessionCache(100_000)
	if len(c.shards) < 2 {
		t.Fatalf("newSessionCache(100000): %d shards, want several", len(c.shards))
	}
	before := c.currentEpoch()
	c.reset()
	after := c.currentEpoch()
	for i := range 1000 {
		id := fmt.Sprint("s", i)
		c.mergeRead(id, loaded(1), before)
		if e, ok := c.get(id); ok {
			t.Fatalf("mergeRead(%q) begun before reset: get = %+v, want no entry", id, e)
		}
		c.mergeRead(id, loaded(1), after)
		if _, ok := c.get(id); !ok {
			t.Fatalf("mergeRead(%q) begun after reset: no entry", id)
		}
	}

	var wg sync.WaitGroup
	stale := c.currentEpoch()
	wg.Go(func() {
		for range 50 {
			c.reset()
		}
	})
	for w := range 4 {
		wg.Go(func() {
			for i := range 500 {
				c.mergeRead(fmt.Sprint("w", w, "-", i), loaded(1), stale)
			}
		})
	}
	wg.Wait()
	// A stale read merged before the first reset was cleared by it; any
	// later one was refused.
	for w := range 4 {
		for i := range 500 {
			if e, ok := c.get(fmt.Sprint("w", w, "-", i)); ok {
				t.Fatalf("stale read kept after reset: %+v", e)
			}
		}
	}
}

// Run with -race: readers and writers of the same and different sessions.
// Without eviction the end state is the order's maximum whatever the
// interleaving; under eviction pressure the size bound holds.
func TestSessionCacheConcurrent(t *testing.T) {
	t.Parallel()
	const workers, gens = 8, 50
	for _, max := range []int{1000, 16} {
		c := newSessionCache(max)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for g := range int64(gens) {
					id := fmt.Sprint("s", (w+int(g))%4)
					c.merge(id, loaded(g))
					if e, ok := c.get(id); ok && e.gen < 0 {
						t.Errorf("get(%q) = gen %d", id, e.gen)
					}
					c.merge(fmt.Sprint("w", w, "-", g), stubAt(g))
					if w == 0 && g == gens/2 {
						c.merge("s0", revokedAt(0))
					}
				}
			})
		}
		wg.Wait()
		n := c.len()
		if n > max {
			t.Errorf("newSessionCache(%d): %d entries after concurrent merges", max, n)
		}
		if max < workers*gens {
			continue // entries were evicted: no end state to check
		}
		if e, _ := c.get("s0"); e == nil || !e.revoked {
			t.Errorf("get(s0) = %+v after a revocation, want revoked", e)
		}
		for _, id := range []string{"s1", "s2", "s3"} {
			if e, _ := c.get(id); e == nil || e.gen != gens-1 {
				t.Errorf("get(%q) = %+v, want generation %d", id, e, gens-1)
			}
		}
	}
}

// BenchmarkSessionCacheGet is the cache read of every verify, from all
// cores at once, each goroutine on its own sessions of a full cache.
func BenchmarkSessionCacheGet(b *testing.B) {
	const sessions = 1024
	c := newSessionCache(100_000)
	ids := make([]string, sessions)
	for i := range ids {
		ids[i] = fmt.Sprint("session-", i)
		c.merge(ids[i], loaded(1))
	}
	var next atomic.Uint32
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1)) * 97
		for pb.Next() {
			if _, ok := c.get(ids[i%sessions]); !ok {
				b.Error("get: cached session missing")
				return
			}
			i++
		}
	})
}
