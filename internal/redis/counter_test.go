package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authtest"
)

// The tests run against the server named by GATEHOUSE_TEST_REDIS_URL, e.g.
// redis://127.0.0.1:6379/0. Each counter gets a random key prefix of its
// own, so tests run in parallel, and on a server that other tests or a
// development instance use, and its keys are deleted when its test ends.
const urlEnv = "GATEHOUSE_TEST_REDIS_URL"

// newTestClient opens a client on the test server and closes it when tb
// ends.
func newTestClient(tb testing.TB) *goredis.Client {
	tb.Helper()
	client, err := Open(context.Background(), authtest.RequireService(tb, urlEnv))
	if err != nil {
		tb.Fatalf("Open(%s) = %v", urlEnv, err)
	}
	tb.Cleanup(func() { client.Close() })
	return client
}

// newTestCounter returns a Counter on client under a fresh prefix and
// deletes the prefix's keys when tb ends (before client is closed, if it
// was opened first: cleanups run last-in first-out).
func newTestCounter(tb testing.TB, client *goredis.Client) (*Counter, string) {
	tb.Helper()
	var b [8]byte
	rand.Read(b[:])
	// Hex, so the prefix holds no glob characters to confuse SCAN MATCH.
	prefix := "gatehouse-test:" + hex.EncodeToString(b[:]) + ":"
	tb.Cleanup(func() { deleteKeys(tb, client, prefix) })
	return NewCounter(client, prefix), prefix
}

// deleteKeys deletes every key under prefix: SCAN, not KEYS, which would
// block a shared server while it walks the whole key space.
func deleteKeys(tb testing.TB, client *goredis.Client, prefix string) {
	tb.Helper()
	// Not tb.Context(): it is already canceled when cleanups run.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		tb.Errorf("scan %s*: %v", prefix, err)
		return
	}
	if len(keys) == 0 {
		return
	}
	if err := client.Del(ctx, keys...).Err(); err != nil {
		tb.Errorf("delete %d keys under %s: %v", len(keys), prefix, err)
	}
}

func TestCounter(t *testing.T) {
	authtest.RequireService(t, urlEnv) // one skip, not one per subtest
	authtest.RunCounterTests(t, func(t *testing.T) auth.Counter {
		c, _ := newTestCounter(t, newTestClient(t))
		return c
	})
}

// Keys live under the prefix, with the window as their TTL, and counters
// with different prefixes on one server never see each other's counts.
func TestCounter_Prefix(t *testing.T) {
	t.Parallel()
	client := newTestClient(t)
	ctx := t.Context()
	a, prefixA := newTestCounter(t, client)
	b, _ := newTestCounter(t, client)

	if _, _, err := a.Incr(ctx, "k", time.Minute); err != nil {
		t.Fatalf("a.Incr(k) = %v", err)
	}
	if got, err := client.Get(ctx, prefixA+"k").Result(); err != nil || got != "1" {
		t.Errorf("GET %sk = %q, %v; want \"1\", nil", prefixA, got, err)
	}
	if ttl, err := client.PTTL(ctx, prefixA+"k").Result(); err != nil || ttl <= 59*time.Second || ttl > time.Minute {
		t.Errorf("PTTL %sk = %v, %v; want just under the 1m window", prefixA, ttl, err)
	}
	if n, _, err := b.Count(ctx, "k"); err != nil || n != 0 {
		t.Errorf("b.Count(k) after a.Incr(k) = %d, %v; want 0, nil: prefixes separate counts", n, err)
	}
	if n, _, err := b.Incr(ctx, "k", time.Minute); err != nil || n != 1 {
		t.Errorf("b.Incr(k) = %d, %v; want 1, nil", n, err)
	}
	if err := b.Reset(ctx, "k"); err != nil {
		t.Fatalf("b.Reset(k) = %v", err)
	}
	if n, _, err := a.Count(ctx, "k"); err != nil || n != 1 {
		t.Errorf("a.Count(k) after b.Reset(k) = %d, %v; want 1, nil", n, err)
	}
}

// A key that somehow lost its expiry (a PERSIST, a hand-made SET) would
// count forever, blocking its address or account for good; Incr gives it
// the window it is asked for, keeping the count.
func TestCounter_KeyWithoutExpiry(t *testing.T) {
	t.Parallel()
	client := newTestClient(t)
	ctx := t.Context()
	c, prefix := newTestCounter(t, client)
	if err := client.Set(ctx, prefix+"k", 5, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, resetAt, err := c.Count(ctx, "k"); err != nil || n != 5 || resetAt.After(time.Now()) {
		t.Errorf("Count(k) on a key without expiry = %d, %v, %v; want 5, a time already past, nil", n, resetAt, err)
	}
	n, resetAt, err := c.Incr(ctx, "k", time.Minute)
	if err != nil || n != 6 {
		t.Fatalf("Incr(k, 1m) on a key without expiry = %d, %v; want 6, nil", n, err)
	}
	if d := time.Until(resetAt); d < 59*time.Second || d > time.Minute {
		t.Errorf("Incr(k, 1m) on a key without expiry: window ends in %v, want about 1m", d)
	}
	if ttl, err := client.PTTL(ctx, prefix+"k").Result(); err != nil || ttl <= 0 {
		t.Errorf("PTTL %sk after Incr = %v, %v; want an expiry", prefix, ttl, err)
	}
}

func TestCounter_WindowTooShort(t *testing.T) {
	t.Parallel()
	client := newTestClient(t)
	c, prefix := newTestCounter(t, client)
	for _, window := range []time.Duration{0, -time.Second, time.Millisecond - 1} {
		if n, _, err := c.Incr(t.Context(), "k", window); err == nil {
			t.Errorf("Incr(k, %v) = %d, nil; want an error: PEXPIRE counts milliseconds", window, n)
		}
	}
	if n, err := client.Exists(t.Context(), prefix+"k").Result(); err != nil || n != 0 {
		t.Errorf("EXISTS %sk after refused Incrs = %d, %v; want 0: nothing written", prefix, n, err)
	}
}

// A value that is not a count is an error, not a zero: the key is not ours
// to overwrite, and a zero would let the client through.
func TestCounter_NotACount(t *testing.T) {
	t.Parallel()
	client := newTestClient(t)
	ctx := t.Context()
	c, prefix := newTestCounter(t, client)
	if err := client.Set(ctx, prefix+"k", "not a number", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if n, _, err := c.Incr(ctx, "k", time.Minute); err == nil {
		t.Errorf("Incr(k) on a string value = %d, nil; want an error", n)
	}
	if n, _, err := c.Count(ctx, "k"); err == nil {
		t.Errorf("Count(k) on a string value = %d, nil; want an error", n)
	}
}

// BenchmarkIncr measures one Incr: a round trip to the server and a script
// run. OneKey is one caller on one key, Parallel many callers on their own
// keys through the pool.
func BenchmarkIncr(b *testing.B) {
	client := newTestClient(b)
	c, _ := newTestCounter(b, client)
	b.Run("OneKey", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := c.Incr(b.Context(), "k", time.Hour); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Parallel", func(b *testing.B) {
		b.ReportAllocs()
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			key := "p" + strconv.FormatInt(next.Add(1), 10)
			for pb.Next() {
				if _, _, err := c.Incr(context.Background(), key, time.Hour); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
