package httpapi

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// FuzzClientAddr walks arbitrary X-Forwarded-For values from arbitrary
// peers. The address a client is counted on must never come from a
// header an untrusted peer sent, must be the peer or one of the listed
// hops, and once the walk found an untrusted hop, nothing a client puts
// further left may change it: that is what keeps a forged header from
// buying a fresh rate-limit budget.
func FuzzClientAddr(f *testing.F) {
	for _, seed := range []struct{ peer, xff, forged string }{
		{"10.0.0.1:443", "203.0.113.7", "198.51.100.1"},
		{"10.0.0.1:443", "203.0.113.7, 10.0.0.2", "1.1.1.1"},
		{"10.0.0.1:443", "::ffff:10.0.0.9, 10.0.0.2", "x"},
		{"[::1]:80", "2001:db8::1%eth0,::1", "2001:db8::2"},
		{"[::1]:80", "garbage, 10.1.2.3", "203.0.113.1"},
		{"198.51.100.9:1", "10.0.0.1", "10.0.0.2"},
		{"not an address", "203.0.113.7", ""},
		{"10.0.0.1:443", ",,, ,", ","},
	} {
		f.Add(seed.peer, seed.xff, seed.forged)
	}
	s := &server{trustedProxies: []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128"),
	}}
	addr := func(peer string, xff ...string) (netip.Addr, bool) {
		r := httptest.NewRequest("GET", "/v1/auth/verify", nil)
		r.RemoteAddr = peer
		for _, v := range xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		return s.clientAddr(r)
	}
	f.Fuzz(func(t *testing.T, peer, xff, forged string) {
		got, ok := addr(peer, xff)
		p, peerOK := remoteAddr(httptestPeer(peer))
		if ok != peerOK {
			t.Fatalf("clientAddr(peer %q, XFF %q): ok = %v, but the peer parses: %v", peer, xff, ok, peerOK)
		}
		if !ok {
			return
		}
		if !s.trusted(p) {
			if got != p {
				t.Fatalf("clientAddr(untrusted peer %q, XFF %q) = %v, want the peer", peer, xff, got)
			}
			return
		}
		hops := []netip.Addr{p}
		for h := range strings.SplitSeq(xff, ",") {
			if ip, err := netip.ParseAddr(strings.TrimSpace(h)); err == nil {
				hops = append(hops, ip.Unmap())
			}
		}
		if !slices.Contains(hops, got) {
			t.Fatalf("clientAddr(peer %q, XFF %q) = %v: neither the peer nor a listed hop", peer, xff, got)
		}
		if s.trusted(got) {
			return // the walk stopped at the proxies; a longer header may go further
		}
		for _, again := range [][]string{{forged + "," + xff}, {forged, xff}} {
			if g, _ := addr(peer, again...); g != got {
				t.Fatalf("clientAddr(peer %q, XFF %q) = %v, but %v with %q in front", peer, xff, got, g, forged)
			}
		}
	})
}

// httptestPeer is a request from peer, for remoteAddr.
func httptestPeer(peer string) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = peer
	return r
}
