// Package httpapi serves the Gatehouse API over HTTP: routing, transports
// (cookie + CSRF, Authorization header, tokens in the body), strict input
// decoding and the mapping of domain errors to statuses. The use cases
// themselves live in package auth.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// Config configures the HTTP API.
type Config struct {
	Service *auth.Service
	Logger  *slog.Logger
	// CookieSecure marks the access cookie Secure; off only for plain-HTTP
	// development.
	CookieSecure bool
	// CookieHostPrefix names the cookie "__Host-jwt_access", which browsers
	// only accept Secure, host-only and with Path=/.
	CookieHostPrefix bool
	// CORSOrigins are the exact origins allowed to call with credentials.
	CORSOrigins []string
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// Ready reports whether storage is reachable; nil means always ready.
	Ready func(context.Context) error
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Metrics serves GET /metrics when set.
	Metrics http.Handler
	// JWKS, when set, serves GET /.well-known/jwks.json: the signing
	// ring's public keys, cacheable for JWKSMaxAge.
	JWKS       func() []byte
	JWKSMaxAge time.Duration
	// RequestTimeout bounds each request's work (its context deadline), so
	// a database that hangs without closing connections turns into 503s
	// instead of requests that wait until the client gives up. 0: none.
	RequestTimeout time.Duration
}

type server struct {
	svc            *auth.Service
	log            *slog.Logger
	cookieName     string
	cookieSecure   bool
	corsOrigins    map[string]bool
	trustedProxies []netip.Prefix
	ready          func(context.Context) error
	now            func() time.Time
	metrics        http.Handler
	jwks           http.Handler
	timeout        time.Duration
}

// NewServer returns the API as one http.Handler with all middleware.
func NewServer(cfg Config) http.Handler {
	s := &server{
		svc:            cfg.Service,
		log:            cfg.Logger,
		cookieName:     "jwt_access",
		cookieSecure:   cfg.CookieSecure,
		corsOrigins:    make(map[string]bool),
		trustedProxies: cfg.TrustedProxies,
		ready:          cfg.Ready,
		now:            cfg.Now,
		metrics:        cfg.Metrics,
		timeout:        cfg.RequestTimeout,
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
