package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrNotLoopback is returned, wrapped, for a target that is not on this
// machine. A load benchmark aimed at another machine is a denial-of-service
// attack, so the client refuses to make one.
var ErrNotLoopback = errors.New("loadgen: not a loopback address")

// CheckLoopback returns an error unless rawURL is an http or https URL
// whose host is "localhost", an address in 127.0.0.0/8 or ::1.
func CheckLoopback(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("loadgen: %q: %w", rawURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("loadgen: %q: scheme must be http or https", rawURL)
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if a, err := netip.ParseAddr(host); err == nil && a.Unmap().IsLoopback() {
		return nil
	}
	return fmt.Errorf("%w: %q (only localhost, 127.0.0.0/8 and ::1)", ErrNotLoopback, host)
}

// loopbackOnly is a dialer Control that refuses any address that is not
// loopback. It runs on the resolved address, so a name that resolves
// elsewhere (a poisoned hosts file, DNS rebinding) is refused too.
func loopbackOnly(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !ap.Addr().Unmap().IsLoopback() {
		return fmt.Errorf("%w: %s %s", ErrNotLoopback, network, address)
	}
	return nil
}

// NewClient returns an HTTP client for load generation: persistent
// keep-alive connections, up to conns of them kept idle (give it the
// concurrency, or every worker beyond the default two reconnects on every
// request), no compression, each request bounded by timeout, and a dialer
// that can only reach loopback addresses.
func NewClient(conns int, timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second, Control: loopbackOnly}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:         d.DialContext,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			Proxy:               nil, // never through a proxy: that would leave the machine
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// WaitReady polls url with GET until it answers 200, ctx is done or
// timeout passes.
func WaitReady(ctx context.Context, c *http.Client, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("loadgen: %s not ready: %v", url, last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
