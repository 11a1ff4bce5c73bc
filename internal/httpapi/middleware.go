package httpapi

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// middleware wraps the routes, outermost first.
func (s *server) middleware(h http.Handler) http.Handler {
	h = s.limitBody(h)
	h = s.crossOrigin(h)
	h = securityHeaders(h)
	h = s.recoverPanics(h)
	h = s.observe(h)
	return h
}

// recoverPanics turns a panic into a logged 503. A panic is our bug, never
// the client's fault, and the client learns nothing about it.
func (s *server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "panic serving request", "method", r.Method,
					"path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				s.writeError(w, r, auth.ErrUnavailable)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// statusRecorder remembers the status a handler wrote. It is the one
// wrapper around the ResponseWriter, shared by the request log and the
// metrics: each layer of wrapping costs every request an allocation and
// an indirect call per write.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (the
// revocation stream flushes and sets write deadlines).
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// observe hands each answered request to Config.OnRequest (the metrics)
// and logs it at debug level (5xx at error). It sits outside panic
// recovery, so a panic's 503 is observed like any other answer. The log
// deliberately holds no header, query string or body: those carry tokens,
// CSRF values and passwords. With neither a hook nor debug logging it
// steps aside entirely — no wrapper, no clock read on the hot path —
// because every 5xx is logged, with its cause, where it is written
// (writeError, panic recovery).
func (s *server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logging := s.log.Enabled(r.Context(), slog.LevelDebug)
		if !logging && s.onRequest == nil {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		// A handler that wrote nothing was answered 200 by net/http.
		status := cmp.Or(rec.status, http.StatusOK)
		elapsed := time.Since(start)
		if s.onRequest != nil {
			s.onRequest(r, status, elapsed)
		}
		if level := slogLevelFor(status); logging && s.log.Enabled(r.Context(), level) {
			s.log.Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path,
				"status", status, "duration", elapsed, "ip", s.clientIP(r))
		}
	})
}

// staticHeaders are set on every response. Assigned directly, already in
// canonical form: Header.Set would validate and canonicalize them again on
// every request of the hot path. The slices are shared and never mutated.
var staticHeaders = [...]struct {
	name  string
	value []string
}{
	{"Cache-Control", []string{"no-store"}},
	{"X-Content-Type-Options", []string{"nosniff"}},
	{"Content-Security-Policy", []string{"default-src 'none'; frame-ancestors 'none'"}},
}

// bounded gives the request's context the configured deadline, so a
// database that hangs without closing connections turns into a 503 rather
// than a request that waits until the client gives up.
func (s *server) bounded(next http.Handler) http.Handler {
	if s.timeout <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// securityHeaders sets what every response of an API that hands out
// credentials should carry.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for _, sh := range staticHeaders {
			h[sh.name] = sh.value
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody refuses bodies over maxBodyBytes: at once when Content-Length
// says so, or when reading passes the limit. A request without a body
// (http.NoBody: every GET of the hot path) has nothing to limit and is
// spared the wrapper's allocation.
func (s *server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > maxBodyBytes {
			s.writeError(w, r, errTooLarge)
			return
		}
		if r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}

// DefaultCORSHeaders are the request headers a listed origin may send:
// the API's own (the seed's Authorization and X-CSRF-Token, the token
// transport's two, the device token of header clients) and what SPA frameworks and tracing add on their own —
// X-Requested-With (jQuery, Angular and Rails UJS mark XHRs with it) and
// W3C Trace Context (traceparent, tracestate: OpenTelemetry's browser
// instrumentation adds them to every fetch). A preflight naming a header
// outside the list fails in the browser, and with it every call of the app.
func DefaultCORSHeaders() []string {
	return []string{"Authorization", "Content-Type", "X-CSRF-Token", "X-Auth-Transport",
		"X-Refresh-Token", "X-Device-Token", "X-Requested-With", "traceparent", "tracestate"}
}

// corsExposed are the response headers a listed origin's scripts may read:
// how long to wait after a 429 or 503, and the known-device token that
// header-transport clients keep (see docs/api.md).
const corsExposed = "Retry-After, X-Device-Token"

// crossOrigin answers CORS for the configured origins and refuses
// cross-origin state-changing requests from browsers (403) unless their
// origin is configured: the second line of defence behind SameSite cookies
// and the CSRF token.
func (s *server) crossOrigin(next http.Handler) http.Handler {
	protect := http.NewCrossOriginProtection()
	for o := range s.corsOrigins {
		// Origins were validated when the configuration was read.
		_ = protect.AddTrustedOrigin(o)
	}
	protect.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, apiError(auth.CodeForbidden, "Cross-origin request refused"))
	}))
	protected := protect.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		// Browsers send every preflight with an Origin.
		preflight := origin != "" && r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		if !s.corsOrigins[origin] {
			if preflight {
				s.refusePreflight(w, r, origin)
				return
			}
			protected.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Add("Vary", "Origin")
		if preflight {
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE")
			h.Set("Access-Control-Allow-Headers", s.corsHeaders)
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.Set("Access-Control-Expose-Headers", corsExposed)
		protected.ServeHTTP(w, r)
	})
}

// refusePreflight answers a preflight from an origin that is not listed.
// The browser only reports a failed CORS check to the page, so the
// operator learns of a missing --cors-origins entry from this warning; the
// 403 names the cause for anyone reading the network tab.
func (s *server) refusePreflight(w http.ResponseWriter, r *http.Request, origin string) {
	s.log.WarnContext(r.Context(), "CORS preflight from an origin not in --cors-origins refused",
		"origin", origin[:min(len(origin), 256)], "path", r.URL.Path, "ip", s.clientIP(r))
	s.writeError(w, r, apiError(auth.CodeForbidden, "Origin not allowed"))
}

// jsonNotFound is the catch-all route: it answers unknown routes and
// wrong methods with the API's JSON error body instead of the mux's plain
// text, keeping the Allow header. routes, without the catch-all, tells the
// two apart; it is consulted only on this error path, so a matched request
// costs one route lookup.
func (s *server) jsonNotFound(routes *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, _ := routes.Handler(r)
		rec := &discardRecorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		if rec.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", rec.header.Get("Allow"))
			s.writeError(w, r, apiError(auth.CodeMethodNotAllowed, "Method not allowed"))
			return
		}
		s.writeError(w, r, errNotFound)
	})
}

// uncleanPath reports whether the mux would redirect p to a cleaned form
// ("//", "/./", "/../"). Such paths get a JSON 404 instead: redirecting a
// credentialed POST elsewhere is not something an auth API should do on a
// client's typo.
func uncleanPath(p string) bool {
	return p != "/" && path.Clean(p) != strings.TrimSuffix(p, "/")
}

// discardRecorder captures the status and headers of the mux's own 404
// and 405 handlers and drops their plain-text body.
type discardRecorder struct {
	header http.Header
	status int
}

func (d *discardRecorder) Header() http.Header         { return d.header }
func (d *discardRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardRecorder) WriteHeader(code int)        { d.status = code }

func slogLevelFor(status int) slog.Level {
	if status >= 500 {
		return slog.LevelError
	}
	return slog.LevelDebug
}
