// Package httpapi serves the Gatehouse API over HTTP: routing, transports
// (cookie + CSRF, Authorization header, tokens in the body), strict input
// decoding and the mapping of domain errors to statuses. The use cases
// themselves live in package auth.
package httpapi

import (
	"cmp"
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/passkey"
)

// Config configures the HTTP API.
type Config struct {
	Service *auth.Service
	// Passkeys serves the /v1/auth/passkeys endpoints; nil answers them
	// 404 "Passkeys are not enabled".
	Passkeys *passkey.Service
	// MFA serves TOTP and recovery codes under /v1/auth/mfa and the
	// step-up; nil leaves those routes out.
	MFA    *mfa.Service
	Logger *slog.Logger
	// CookieSecure marks the access cookie Secure; off only for plain-HTTP
	// development.
	CookieSecure bool
	// CookieHostPrefix names the cookie "__Host-jwt_access", which browsers
	// only accept Secure, host-only and with Path=/.
	CookieHostPrefix bool
	// CookieSameSite is the access cookie's SameSite; 0 means Lax. None is
	// for an SPA on another site than the API, and browsers accept it only
	// on a Secure cookie.
	CookieSameSite http.SameSite
	// CORSOrigins are the exact origins allowed to call with credentials.
	CORSOrigins []string
	// CORSHeaders are request headers allowed from CORSOrigins besides
	// DefaultCORSHeaders.
	CORSHeaders []string
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// IPv6Prefix is the prefix length an IPv6 client is counted on for
	// rate limits and back-off; 0 means 64.
	IPv6Prefix int
	// Ready reports whether storage is reachable; nil means always ready.
	Ready func(context.Context) error
	// Now is the clock; default time.Now.
	Now func() time.Time
	// JWKS, when set, serves GET /.well-known/jwks.json: the signing
	// ring's public keys, cacheable for JWKSMaxAge.
	JWKS       func() []byte
	JWKSMaxAge time.Duration
	// RequestTimeout bounds each request's work (its context deadline), so
	// a database that hangs without closing connections turns into 503s
	// instead of requests that wait until the client gives up. 0: none.
	RequestTimeout time.Duration
	// StreamHeartbeat is how often the revocation stream proves it is
	// alive when nothing changes; 0 means DefaultStreamHeartbeat.
	StreamHeartbeat time.Duration
	// Stop, closed when the server begins to shut down, ends the open
	// revocation streams (their followers reconnect, to another node):
	// they would otherwise hold the shutdown until its timeout. Nil: never.
	Stop <-chan struct{}
	// OnRequest, when set, is called once for each answered request with
	// the status written and the time it took (the metrics). r.Pattern
	// names the route that served it.
	OnRequest func(r *http.Request, status int, elapsed time.Duration)
}

type server struct {
	svc            *auth.Service
	pk             *passkey.Service
	mfa            *mfa.Service
	log            *slog.Logger
	cookieName     string
	cookieSecure   bool
	cookieSameSite http.SameSite
	corsOrigins    map[string]bool
	corsHeaders    string // Access-Control-Allow-Headers
	trustedProxies []netip.Prefix
	ipv6Bits       int
	ready          func(context.Context) error
	now            func() time.Time
	jwks           http.Handler
	timeout        time.Duration
	heartbeat      time.Duration
	stop           <-chan struct{}
	onRequest      func(*http.Request, int, time.Duration)
}

// NewServer returns the API as one http.Handler with all middleware.
func NewServer(cfg Config) http.Handler {
	s := &server{
		svc:            cfg.Service,
		pk:             cfg.Passkeys,
		mfa:            cfg.MFA,
		log:            cfg.Logger,
		cookieName:     "jwt_access",
		cookieSecure:   cfg.CookieSecure,
		cookieSameSite: cmp.Or(cfg.CookieSameSite, http.SameSiteLaxMode),
		corsOrigins:    make(map[string]bool),
		corsHeaders:    strings.Join(append(DefaultCORSHeaders(), cfg.CORSHeaders...), ", "),
		trustedProxies: cfg.TrustedProxies,
		ipv6Bits:       cmp.Or(cfg.IPv6Prefix, 64),
		ready:          cfg.Ready,
		now:            cfg.Now,
		timeout:        cfg.RequestTimeout,
		heartbeat:      cmp.Or(cfg.StreamHeartbeat, DefaultStreamHeartbeat),
		stop:           cfg.Stop,
		onRequest:      cfg.OnRequest,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.ready == nil {
		s.ready = func(context.Context) error { return nil }
	}
	if cfg.CookieHostPrefix {
		s.cookieName = "__Host-jwt_access"
	}
	if cfg.JWKS != nil {
		s.jwks = handleJWKS(cfg.JWKS, cfg.JWKSMaxAge)
	}
	for _, o := range cfg.CORSOrigins {
		s.corsOrigins[o] = true
	}
	return s.middleware(s.routes())
}
