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
// with different prefixes on one server never see each other's budgets.
func TestCounter_Prefix(t *testing.T) {
	t.Parallel()
	client := newTestClient(t)
	ctx := t.Context()
	a, prefixA := newTestCounter(t, client)
	b, _ := newTestCounter(t, client)
	rate := auth.Admission{Rates: []auth.Rate{{Key: "k", Limit: 1, Window: time.Minute}}}

	if d, err := a.Admit(ctx, rate); err != nil || !d.Admitted {
		t.Fatalf("a.Admit(rate k) = %+v, %v; want admitted", d, err)
	}
	if got, err := client.Get(ctx, prefixA+"k").Result(); err != nil || got != "1" {
		t.Errorf("GET %sk = %q, %v; want \"1\", nil", prefixA, got, err)
	}
	if ttl, err := client.PTTL(ctx, prefixA+"k").Result(); err != nil || ttl <= 59*time.Second || ttl > time.Minute {
		t.Errorf("PTTL %sk = %v, %v; want just under the 1m window", prefixA, ttl, err)
	}
	if d, err := b.Admit(ctx, rate); err != nil || !d.Admitted {
		t.Errorf("b.Admit(rate k) after a's = %+v, %v; want admitted: prefixes separate budgets", d, err)
	}
	if d, err := a.Admit(ctx, rate); err != nil || d.Admitted {
		t.Errorf("a.Admit(rate k) #2 = %+v, %v; want refused", d, err)
	}
}

// A key that somehow lost its expiry (a PERSIST, a hand-made SET) would
// count forever, blocking its address or account for good; Admit gives it
// an expiry, keeping the count.
func TestCounter_KeyWithoutExpiry(t *testing.T) {
	t.Parallel()
	client := newTestClient(t)
	ctx := t.Context()
	c, prefix := newTestCounter(t, client)
	if err := client.Set(ctx, prefix+"rate", 5, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := client.HSet(ctx, prefix+"backoff", "n", 1).Err(); err != nil {
		t.Fatal(err)
	}
	a := auth.Admission{
		Rates:    []auth.Rate{{Key: "rate", Limit: 10, Window: time.Minute}},
		Backoffs: []auth.Backoff{{Key: "backoff", Free: 10, MaxDelay: time.Hour, Memory: time.Hour}},
	}
	if d, err := c.Admit(ctx, a); err != nil || !d.Admitted {
		t.Fatalf("Admit on keys without expiry = %+v, %v; want admitted", d, err)
	}
	for _, k := range []string{"rate", "backoff"} {
		if ttl, err := client.PTTL(ctx, prefix+k).Result(); err != nil || ttl <= 0 {
			t.Errorf("PTTL %s%s after Admit = %v, %v; want an expiry", prefix, k, ttl, err)
		}
	}
	if got, _ := client.Get(ctx, prefix+"rate").Result(); got != "6" {
		t.Errorf("GET %srate after Admit = %q, want \"6\": the count kept", prefix, got)
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
	if d, err := c.Admit(ctx, auth.Admission{Rates: []auth.Rate{{Key: "k", Limit: 10, Window: time.Minute}}}); err == nil {
		t.Errorf("Admit(rate k) on a string value = %+v, nil; want an error", d)
	}
}

// BenchmarkAdmit measures one sign-in's admission and settlement: two
// round trips. OneKey is one caller on one account, Parallel many callers
// on their own accounts through the pool.
func BenchmarkAdmit(b *testing.B) {
	client := newTestClient(b)
	c, _ := newTestCounter(b, client)
	signIn := func(b *testing.B, ctx context.Context, key string) {
		a := auth.Admission{
			Rates:    []auth.Rate{{Key: "ip:" + key, Limit: 1 << 40, Window: time.Minute}},
			Backoffs: []auth.Backoff{{Key: "fail:" + key, Free: 1 << 40, MaxDelay: time.Hour, Memory: time.Hour}},
			Slots:    []auth.Slot{{Key: "slot:" + key, Max: 4}},
			Holder:   "h", SlotTTL: time.Minute,
		}
		if _, err := c.Admit(ctx, a); err != nil {
			b.Error(err)
		}
		if err := c.Settle(ctx, auth.Settlement{Clear: []string{"fail:" + key}, Release: []string{"slot:" + key}, Holder: "h"}); err != nil {
			b.Error(err)
		}
	}
	b.Run("OneKey", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			signIn(b, b.Context(), "k")
		}
	})
	b.Run("Parallel", func(b *testing.B) {
		b.ReportAllocs()
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			key := "p" + strconv.FormatInt(next.Add(1), 10)
			for pb.Next() {
				signIn(b, context.Background(), key)
			}
		})
	})
}
