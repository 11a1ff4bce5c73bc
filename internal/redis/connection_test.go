package redis

import (
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/auth"
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

	// Limit 2: the first admission takes one, the one after the outage
	// the other, and a third is refused: the count lived in Redis.
	rate := auth.Admission{Rates: []auth.Rate{{Key: "k", Limit: 2, Window: time.Minute}}}
	if d, err := c.Admit(ctx, rate); err != nil || !d.Admitted {
		t.Fatalf("Admit(k) through the proxy = %+v, %v; want admitted", d, err)
	}

	p.Cut()
	for i := range 3 {
		start := time.Now()
		_, err := c.Admit(ctx, rate)
		took := time.Since(start)
		checkUnavailable(t, "Admit(k) with the proxy closed", err)
		if took > 2*time.Second {
			t.Errorf("Admit(k) #%d with the proxy closed took %v, want an error within 2s", i+1, took)
		}
	}
	if err := c.Settle(ctx, auth.Settlement{Clear: []string{"x"}}); err == nil {
		t.Errorf("Settle with the proxy closed = nil error, want one")
	}

	p.Restore(t)
	// go-redis may hold off dialing for a moment after a run of failed
	// dials; give it a little longer than that.
	deadline := time.Now().Add(3 * time.Second)
	for {
		d, err := c.Admit(ctx, rate)
		if err == nil {
			if !d.Admitted {
				t.Errorf("Admit(k) after the proxy came back refused, want admitted: the outage counted nothing")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Admit(k) 3s after the proxy came back = %v, want the client to have reconnected", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if d, err := c.Admit(ctx, rate); err != nil || d.Admitted {
		t.Errorf("Admit(k) #3 = %+v, %v; want refused: the count lives in Redis", d, err)
	}
}
