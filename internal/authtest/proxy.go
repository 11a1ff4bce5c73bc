package authtest

import (
	"errors"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Proxy is a TCP proxy for fault tests: it forwards connections to a backend and can cut it off: Cut
// closes every connection through it and stops listening, so new ones are
// refused — what a stopped server or a broken path looks like to the
// client; Restore listens again on the same address, as a restarted server
// comes back where its clients look for it. Freeze holds every byte
// instead, closing nothing: a server that hangs, or packets dropped.
type Proxy struct {
	Addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener // nil while cut
	conns  map[net.Conn]struct{}
	thawed chan struct{} // closed while bytes flow
	wg     sync.WaitGroup
}

// StartProxy forwards a free local port to target (host:port) until t
// ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	p := &Proxy{Addr: ln.Addr().String(), target: target, thawed: make(chan struct{})}
	close(p.thawed)
	p.serve(ln)
	t.Cleanup(func() { p.Thaw(); p.Cut(); p.wg.Wait() })
	return p
}

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln, p.conns = ln, make(map[net.Conn]struct{})
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() { p.forward(c) })
		}
	})
}

func (p *Proxy) forward(client net.Conn) {
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		client.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil { // cut while dialing
		p.mu.Unlock()
		client.Close()
		server.Close()
		return
	}
	p.conns[client], p.conns[server] = struct{}{}, struct{}{}
	p.mu.Unlock()
	var wg sync.WaitGroup
	wg.Go(func() { p.pipe(server, client) })
	p.pipe(client, server)
	wg.Wait()
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, server)
	p.mu.Unlock()
}

// pipe copies src to dst, holding each chunk while the proxy is frozen.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			thawed := p.thawed
			p.mu.Unlock()
			<-thawed
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Freeze stops passing bytes either way without closing anything: to the
// client, a server that hangs or a network path that silently drops
// everything. New connections are accepted and hang too.
func (p *Proxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.thawed:
		p.thawed = make(chan struct{})
	default:
	}
}

// Thaw lets the held bytes and everything after them through. Idempotent.
func (p *Proxy) Thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.thawed:
	default:
		close(p.thawed)
	}
}

// Cut closes the listener and every connection. Idempotent.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return
	}
	p.ln.Close()
	p.ln = nil
	for c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// Restore listens on the proxy's address again, retrying briefly in case
// the port is not free yet.
func (p *Proxy) Restore(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		ln, err := net.Listen("tcp", p.Addr)
		if err == nil {
			p.serve(ln)
			return
		}
		if !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
			t.Fatalf("proxy: listen on %s again: %v", p.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
