package redis

import (
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/authtest"
)

func TestCounter_ConnectionLost(t *testing.T) {
	t.Parallel()
	// Keys are cleaned up through a client of their own: the counter's
	// path is what the test breaks.
	_, prefix := newTestCounter(t, newTestClient(t))
	opt, err := options(authtest.RequireService(t, urlEnv))
	if err != nil {
		t.Fatal(err)
	}
	p := authtest.StartProxy(t, opt.Addr)
	opt.Addr = p.Addr
	client := goredis.NewClient(opt)
	t.Cleanup(func() { client.Close() })
	c := NewCounter(client, prefix)
	ctx := t.Context()

	if n, _, err := c.Incr(ctx, "k", time.Minute); err != nil || n != 1 {
		t.Fatalf("Incr(k) through the proxy = %d, %v; want 1, nil", n, err)
	}

	p.Cut()
	for i := range 3 {
		start := time.Now()
		_, _, err := c.Incr(ctx, "k", time.Minute)
		took := time.Since(start)
		checkUnavailable(t, "Incr(k) with the proxy closed", err)
		if took > 2*time.Second {
			t.Errorf("Incr(k) #%d with the proxy closed took %v, want an error within 2s", i+1, took)
		}
	}
	if _, _, err := c.Count(ctx, "k"); err == nil {
		t.Errorf("Count(k) with the proxy closed = nil error, want one")
	}

	p.Restore(t)
	// go-redis may hold off dialing for a moment after a run of failed
	// dials; give it a little longer than that.
	deadline := time.Now().Add(3 * time.Second)
	for {
		n, _, err := c.Count(ctx, "k")
		if err == nil {
			if n != 1 {
				t.Errorf("Count(k) after the proxy came back = %d, want 1: the count lives in Redis", n)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Count(k) 3s after the proxy came back = %v, want the client to have reconnected", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n, _, err := c.Incr(ctx, "k", time.Minute); err != nil || n != 2 {
		t.Errorf("Incr(k) after the proxy came back = %d, %v; want 2, nil", n, err)
	}
}
