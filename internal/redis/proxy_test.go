package redis

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/authtest"
)

// proxy forwards TCP connections on addr to a server until it is closed,
// which cuts every connection through it and refuses new ones: to the
// client, what a Redis restart or a dropped network path looks like.
type proxy struct {
	addr   string
	target string
	ln     net.Listener
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

// startProxy listens on addr ("127.0.0.1:0" for any free port) and
// forwards to target (host:port). It is closed when tb ends, if not before.
func startProxy(tb testing.TB, addr, target string) *proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		tb.Fatalf("proxy: listen on %s: %v", addr, err)
	}
	p := &proxy{addr: ln.Addr().String(), target: target, ln: ln, conns: make(map[net.Conn]struct{})}
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() { p.serve(c) })
		}
	})
	tb.Cleanup(p.close)
	return p
}

// restartProxy starts a proxy on the address of one that was closed, as a
// restarted server comes back where clients look for it.
func restartProxy(tb testing.TB, old *proxy) *proxy {
	tb.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		ln, err := net.Listen("tcp", old.addr)
		if err == nil {
			ln.Close()
			return startProxy(tb, old.addr, old.target)
		}
		if time.Now().After(deadline) {
			tb.Fatalf("proxy: listen on %s again: %v", old.addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (p *proxy) serve(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	if !p.track(client, server) {
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() { pipe(server, client) })
	pipe(client, server)
	wg.Wait()
}

// track records the pair for close, or closes it if the proxy already is.
func (p *proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	io.Copy(dst, src)
}

// close stops listening and cuts every connection. Idempotent.
func (p *proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}

// When the path to Redis breaks, calls fail promptly with errors (503s);
// when it comes back, the same client and Counter work again: go-redis
// drops the dead connections and dials new ones, and nothing has to be
// restarted. The counts survive, since Redis itself never went away.
func TestCounter_ConnectionLost(t *testing.T) {
	t.Parallel()
	// Keys are cleaned up through a client of their own: the counter's
	// path is what the test breaks.
	_, prefix := newTestCounter(t, newTestClient(t))
	opt, err := options(authtest.RequireService(t, urlEnv))
	if err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, "127.0.0.1:0", opt.Addr)
	opt.Addr = p.addr
	client := goredis.NewClient(opt)
	t.Cleanup(func() { client.Close() })
	c := NewCounter(client, prefix)
	ctx := t.Context()

	if n, _, err := c.Incr(ctx, "k", time.Minute); err != nil || n != 1 {
		t.Fatalf("Incr(k) through the proxy = %d, %v; want 1, nil", n, err)
	}

	p.close()
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

	restartProxy(t, p)
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
