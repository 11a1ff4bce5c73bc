package httpapi

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientIP is the address a request came from, as shown in the session
// list and the logs.
func (s *server) clientIP(r *http.Request) string {
	ip, ok := s.clientAddr(r)
	if !ok {
		return ""
	}
	return ip.String()
}

// network is the key of a client's per-address budgets: the address block
// one subscriber holds. An ISP hands each IPv6 customer at least a /64
// (RFC 6177, RIPE-690), and hosting providers a /64 per server, so an
// attacker can rotate through 2^64 addresses at no cost; counting them one
// by one would give each guess a fresh budget. IPv4 addresses are scarce
// enough to count singly. The zone of a link-local address names an
// interface of ours, not a different client, so it is dropped.
func (s *server) network(ip netip.Addr) string {
	ip = ip.WithZone("")
	if !ip.Is6() || s.ipv6Bits >= 128 {
		return ip.String()
	}
	p, err := ip.Prefix(s.ipv6Bits)
	if err != nil { // a prefix length the configuration should have refused
		return ip.String()
	}
	return p.String()
}

// clientAddr is the peer, or, when the peer is a trusted proxy, the
// right-most X-Forwarded-For entry that is not itself a trusted proxy
// (entries further left are client-supplied and could be forged).
// IPv4-mapped IPv6 addresses are unmapped, so a dual-stack listener counts
// an IPv4 client the same whichever way it arrived.
func (s *server) clientAddr(r *http.Request) (netip.Addr, bool) {
	peer, ok := remoteAddr(r)
	if !ok {
		return netip.Addr{}, false
	}
	if !s.trusted(peer) {
		return peer, true
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		ip, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		ip = ip.Unmap()
		if !s.trusted(ip) {
			return ip, true
		}
		peer = ip
	}
	return peer, true
}

func remoteAddr(r *http.Request) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return ip.Unmap(), true
}

func (s *server) trusted(ip netip.Addr) bool {
	for _, p := range s.trustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
