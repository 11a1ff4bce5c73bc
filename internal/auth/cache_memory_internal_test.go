package auth

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// TestSessionCache_HeapAtBound measures the heap of a session cache filled
// to its default bound with sessions as the flows cache them (each at
// generation 1, so holding both generations' derived secrets, with its
// user's own email), the number docs/benchmarks.md quotes (go test
// ./internal/auth -run SessionCache_HeapAtBound -v), and holds it to the
// per-session figure the memory budget there is worked out with.
func TestSessionCache_HeapAtBound(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a session cache to its bound")
	}
	const entries = 100_000 // Config.CacheSize's default
	s := &Service{keys: newSessionKeys(make([]byte, 32))}
	now := time.Now()
	before := heapInUse()
	c := newSessionCache(entries)
	for i := range entries {
		sess := &Session{
			ID: fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i), UserID: int64(i), Generation: 1,
			RotatedAt: now, AccessExpiresAt: now, CreatedAt: now, ExpiresAt: now,
			Methods: []Method{MethodPassword}, AuthenticatedAt: now, AuthenticatedBy: MethodPassword,
		}
		u := &User{ID: int64(i), Email: fmt.Sprintf("user%07d@example.com", i), CreatedAt: now}
		c.merge(sess.ID, s.cacheEntry(sess, u, s.derivedSecrets(sess.ID)))
	}
	used := heapInUse() - before
	// Each shard evicts a tenth of itself when full, and ids do not
	// spread evenly, so a cache at its bound holds a little less.
	held := c.len()
	if held > entries || held < entries*9/10 {
		t.Fatalf("cache holds %d sessions after %d, want 90 to 100 %%", held, entries)
	}
	runtime.KeepAlive(c)
	t.Cleanup(runtime.GC)
	perSession := used / int64(held)
	t.Logf("session cache at its bound (%d sessions): %.1f MiB of heap, %d bytes per session",
		held, float64(used)/(1<<20), perSession)
	if perSession > CachedSessionBytes {
		t.Errorf("a cached session takes %d bytes of heap, want at most CachedSessionBytes, %d, which a node's memory limit allows for it",
			perSession, CachedSessionBytes)
	}
}

func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
