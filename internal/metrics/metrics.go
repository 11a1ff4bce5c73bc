// Package metrics exposes Gatehouse's Prometheus metrics. Everything is
// registered on a registry passed in (built in main): no global state, so
// tests and several servers in one process each get their own.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// Metrics records requests and auth events.
type Metrics struct {
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	signIns     *prometheus.CounterVec
	events      *prometheus.CounterVec
	rateLimited *prometheus.CounterVec
	reuse       prometheus.Counter
	revocations *prometheus.CounterVec
	hashWait    prometheus.Histogram
	gatherer    prometheus.Gatherer

	// series caches the labelled request series: resolving label values
	// hashes them on every call, a cost the hot path need not pay twice.
	mu     sync.RWMutex
	series map[seriesKey]requestSeries
}

type seriesKey struct {
	route, method string
	status        int
}

type requestSeries struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// Sources are the live values read at scrape time.
type Sources struct {
	HashInFlight func() int
	HashWaiting  func() int
	// FeedHealthy reports whether the node's change feed is connected.
	FeedHealthy func() bool
	// LiveSessions counts live sessions (a database query per scrape).
	LiveSessions func(context.Context) (int64, error)
	// MailBacklog counts the mails waiting in the outbox.
	MailBacklog func(context.Context) (int64, error)
	// ClockOffset is the last measured offset of the database's clock
	// from the node's.
	ClockOffset func() time.Duration
	// DiskFree is the free space where the SQLite database lives; nil
	// with PostgreSQL.
	DiskFree func() (uint64, error)
	// BridgeBacklog and BridgeFailures are the jwt_sessions bridge's
	// (--jwt-sessions-redis); nil without it.
	BridgeBacklog  func() int64
	BridgeFailures func() int64
	// Build labels gatehouse_build_info, so dashboards can tell which
	// release each node runs (a rollout in progress, a node left behind).
	Build Build
}

// Build identifies the running binary.
type Build struct {
	Version, Commit, GoVersion string
}

// New registers Gatehouse's metrics on reg, plus the Go runtime and
// process collectors.
func New(reg *prometheus.Registry, src Sources) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_http_requests_total",
			Help: "HTTP requests by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatehouse_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		signIns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_sign_ins_total",
			Help: "Sign-in attempts by outcome: success, unknown_email, wrong_password, locked, rate_limited.",
		}, []string{"outcome"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_auth_events_total",
			Help: "Audit events by type.",
		}, []string{"event"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_rate_limited_total",
			Help: "Requests refused by rate limits or back-off, by action.",
		}, []string{"action"}),
		reuse: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_refresh_reuse_detected_total",
			Help: "Refreshes that presented an already-replaced credential; each revoked its session.",
		}),
		revocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_session_revocations_total",
			Help: "Sessions ended, by reason: sign_out, refresh_reuse, user, password_changed, session_cap, admin, …",
		}, []string{"reason"}),
		hashWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gatehouse_hash_queue_wait_seconds",
			Help:    "How long password hashing waited for a slot.",
			Buckets: []float64{.0001, .001, .005, .01, .025, .05, .1, .25, .5, 1, 2},
		}),
		gatherer: reg,
		series:   make(map[seriesKey]requestSeries),
	}
	reg.MustRegister(m.requests, m.duration, m.signIns, m.events, m.rateLimited, m.reuse, m.revocations, m.hashWait,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "gatehouse_build_info",
		Help: "Always 1; the labels name the running binary's version, VCS commit and Go version.",
	}, []string{"version", "commit", "goversion"})
	info.WithLabelValues(src.Build.Version, src.Build.Commit, src.Build.GoVersion).Set(1)
	reg.MustRegister(info)
	if src.HashInFlight != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gatehouse_hash_in_flight", Help: "Password hashes running now.",
		}, func() float64 { return float64(src.HashInFlight()) }))
	}
	if src.HashWaiting != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gatehouse_hash_queue_depth", Help: "Sign-ins and registrations waiting for a hash slot.",
		}, func() float64 { return float64(src.HashWaiting()) }))
	}
	if src.FeedHealthy != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gatehouse_change_feed_healthy",
			Help: "1 while the node's session change feed is connected and its cache trusted; 0 while it reads every session from the database.",
		}, func() float64 {
			if src.FeedHealthy() {
				return 1
			}
			return 0
		}))
	}
	if src.LiveSessions != nil {
		reg.MustRegister(countGauge("gatehouse_active_sessions", "Sessions not revoked and not expired (-1 if the database did not answer).", src.LiveSessions))
	}
	if src.MailBacklog != nil {
		reg.MustRegister(countGauge("gatehouse_mail_outbox_pending", "Mails waiting in the outbox, due or backing off (-1 if the database did not answer).", src.MailBacklog))
	}
	if src.ClockOffset != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gatehouse_clock_offset_seconds",
			Help: "How far the database's clock is ahead of this node's (negative: behind), as last measured; the node corrects by it, and /readyz fails beyond --max-clock-skew.",
		}, func() float64 { return src.ClockOffset().Seconds() }))
	}
	if src.BridgeBacklog != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gatehouse_jwt_sessions_bridge_backlog",
			Help: "Token changes the jwt_sessions bridge has not written to its Redis yet (log entries in hand and new sessions queued).",
		}, func() float64 { return float64(src.BridgeBacklog()) }))
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "gatehouse_jwt_sessions_bridge_failures_total",
			Help: "Failed writes of the jwt_sessions bridge (retried) and new sessions it dropped from a full queue.",
		}, func() float64 { return float64(src.BridgeFailures()) }))
	}
	if src.DiskFree != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gatehouse_disk_free_bytes",
			Help: "Free bytes on the file system of the SQLite database (-1 if it cannot be read); /readyz fails below --sqlite-min-free-mib.",
		}, func() float64 {
			n, err := src.DiskFree()
			if err != nil {
				return -1
			}
			return float64(n)
		}))
	}
	return m
}

// countGauge is a gauge that runs a database count per scrape.
func countGauge(name, help string, count func(context.Context) (int64, error)) prometheus.GaugeFunc {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := count(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	})
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.gatherer, promhttp.HandlerOpts{})
}

// Event counts one audit event.
func (m *Metrics) Event(e auth.Event) {
	m.events.WithLabelValues(string(e.Type)).Inc()
	switch e.Type {
	case auth.EventSignedIn:
		m.signIns.WithLabelValues("success").Inc()
	case auth.EventSignInFailed:
		m.signIns.WithLabelValues(e.Reason).Inc()
	case auth.EventRateLimited:
		m.rateLimited.WithLabelValues(e.Reason).Inc()
		if e.Reason == "sign_in" {
			m.signIns.WithLabelValues("rate_limited").Inc()
		}
	case auth.EventRefreshReused:
		m.reuse.Inc()
		m.revocations.WithLabelValues("refresh_reuse").Inc()
	case auth.EventSignedOut:
		m.revocations.WithLabelValues("sign_out").Inc()
	case auth.EventSessionRevoked:
		m.revocations.WithLabelValues(e.Reason).Inc()
	}
}

// HashWaited records how long a hash waited for a slot.
func (m *Metrics) HashWaited(d time.Duration) { m.hashWait.Observe(d.Seconds()) }

// ObserveRequest counts a request by the route pattern that served it
// (never the raw path: ids in paths would make unbounded label values).
// It is httpapi's Config.OnRequest, which records the status on the one
// ResponseWriter wrapper the API has.
func (m *Metrics) ObserveRequest(r *http.Request, status int, elapsed time.Duration) {
	route := r.Pattern
	if route == "" {
		route = "unmatched"
	}
	s := m.seriesFor(seriesKey{route, methodLabel(r.Method), status})
	s.count.Inc()
	s.duration.Observe(elapsed.Seconds())
}

// methodLabel keeps clients from minting label values: any method
// outside the standard ones is "other".
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodDelete, http.MethodOptions, http.MethodPatch:
		return m
	}
	return "other"
}

// seriesFor returns the cached series of k. The key space is bounded:
// routes are patterns, methods the mux accepted (or "unmatched" ones), and
// statuses the handful the API writes.
func (m *Metrics) seriesFor(k seriesKey) requestSeries {
	m.mu.RLock()
	s, ok := m.series[k]
	m.mu.RUnlock()
	if ok {
		return s
	}
	s = requestSeries{
		count:    m.requests.WithLabelValues(k.route, k.method, strconv.Itoa(k.status)),
		duration: m.duration.WithLabelValues(k.route),
	}
	m.mu.Lock()
	m.series[k] = s
	m.mu.Unlock()
	return s
}
