package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/httpapi"
	"github.com/gatehouse/gatehouse/internal/jwtsessions"
	"github.com/gatehouse/gatehouse/internal/keyring"
	"github.com/gatehouse/gatehouse/internal/metrics"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/redis"
)

const serveUsage = `Usage: gatehouse serve [flags]

Run the service: the HTTP API on --addr, migrating the database first. Every
flag can also be set by its GATEHOUSE_* variable; a flag wins over it.`

// runServe runs the HTTP service until ctx is cancelled (SIGINT/SIGTERM),
// then drains in-flight requests.
func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (err error) {
	cfg, err := parseConfig("serve", args, getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	warnUnknownEnv(ctx, log)
	defer func() { err = logFailure(log, err) }()

	app, err := buildApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer app.Close()
	// A serving node follows other processes' session changes and prunes
	// ended sessions; the one-shot admin commands need neither.
	defer startFeed(app.store, app.svc, log)()
	defer startPruner(app.store, log)()
	if app.bridge != nil {
		defer background(app.bridge.Run)()
	}
	stopMailer, err := startMailer(ctx, cfg, app.svc, log)
	if err != nil {
		return err
	}
	defer stopMailer()
	defer startCalibration(app.svc, log)()
	defer startClockSync(app.svc, log)()
	defer app.followKeys(cfg.TokenAlg, keyring.ReloadInterval, log)()
	defer limitMemory(cfg, app.svc, getenv)()

	if cfg.MetricsAddr != "" {
		stop, err := serveMetrics(ctx, cfg, app.metrics, log, stdout)
		if err != nil {
			return err
		}
		defer stop()
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "gatehouse %s listening on http://%s (%s)\n", version(), ln.Addr(), redactDSN(cfg.DB))
	log.Info("listening", "addr", ln.Addr().String(), "db", redactDSN(cfg.DB))
	return serveHTTP(ctx, ln, app.handler, log, cfg.ShutdownDrain, cfg.ShutdownTimeout)
}

// startCalibration learns, in the background, how long the slowest kind
// of stored hash takes to verify, which every failed sign-in is then held
// to (auth.Service.CalibrateFailures).
func startCalibration(svc *auth.Service, log *slog.Logger) (stop func()) {
	return background(func(ctx context.Context) {
		n, floor, err := svc.CalibrateFailures(ctx)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("failure pacing not calibrated from the store; it learns as sign-ins verify", "err", err)
			}
			return
		}
		log.Info("failure pacing calibrated", "hash_classes", n, "floor", floor)
	})
}

// serveMetrics serves GET /metrics on --metrics-addr until stop is called.
// It is a listener of its own because the counters are an oracle (one
// failed sign-in and one scrape tell unknown_email from wrong_password):
// the operator binds it where only the monitoring system reaches.
func serveMetrics(ctx context.Context, cfg *Config, h http.Handler, log *slog.Logger, stdout io.Writer) (stop func(), err error) {
	ln, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	fmt.Fprintf(stdout, "gatehouse metrics on http://%s/metrics\n", ln.Addr())
	log.Info("serving metrics", "addr", ln.Addr().String())
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := serveHTTP(ctx, ln, mux, log, 0, cfg.ShutdownTimeout); err != nil {
			log.Error("metrics listener failed", "err", err)
		}
	}()
	return func() { cancel(); <-done }, nil
}

// serveHTTP serves h on ln until ctx ends. Then for the drain period it
// keeps accepting and answers every new request with 503 and Retry-After
// (httpapi.RefuseWhileDraining), so load balancers and clients move on
// while nothing is dropped; then it closes the listener, so later
// connections are refused, and waits for in-flight requests for at most
// shutdownTimeout. The server's limits are the service's: the bench's
// baseline server uses them too, so it is loaded the same way.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger, drain, shutdownTimeout time.Duration) error {
	var draining atomic.Bool
	srv := &http.Server{
		Handler:           httpapi.RefuseWhileDraining(draining.Load, h),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second, // a sign-in may queue for a hash slot
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	draining.Store(true)
	log.Info("shutting down", "drain", drain, "timeout", shutdownTimeout)
	select {
	case err := <-errc:
		return err
	case <-time.After(drain):
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// app is the wired service: what serve runs and what bench starts
// in-process.
type app struct {
	store   auth.Store
	svc     *auth.Service
	bridge  *jwtsessions.Bridge // nil without --jwt-sessions-redis
	handler http.Handler        // the public API
	metrics http.Handler        // GET /metrics, for --metrics-addr only
	closers []func() error
	keys    keyState
}

// Close stops the change feed and closes connections, last opened first.
func (a *app) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	return errors.Join(errs...)
}

// buildApp opens the store and wires the service and its HTTP API.
func buildApp(ctx context.Context, cfg *Config, log *slog.Logger) (*app, error) {
	store, err := openStore(ctx, cfg.DB)
	if err != nil {
		return nil, err
	}
	a := &app{store: store, closers: []func() error{store.Close}}
	fail := func(err error) (*app, error) { a.Close(); return nil, err }
	key, err := appKeys(ctx, cfg, store, a, log)
	if err != nil {
		return fail(err)
	}
	if cfg.Redis != "" {
		redis.SetLogger(log)
	}
	counter, closeCounter, err := newCounter(ctx, cfg, store)
	if err != nil {
		return fail(err)
	}
	a.closers = append(a.closers, closeCounter)
	slots := cfg.hashSlots()
	queue := cmp.Or(cfg.HashQueue, 32*slots)
	hashSlots := password.NewLimiter(slots, cfg.HashWait, password.MaxWaiting(queue))
	var svc *auth.Service // built below; scrapes come after it is
	bridgeClient, err := openBridgeRedis(ctx, cfg)
	if err != nil {
		return fail(err)
	}
	var bridge *jwtsessions.Bridge // built with svc; events come after it is
	src := metrics.Sources{
		HashInFlight: hashSlots.InFlight,
		HashWaiting:  hashSlots.Waiting,
		FeedHealthy:  func() bool { return svc.FeedHealthy() },
		LiveSessions: func(ctx context.Context) (int64, error) { return store.CountLiveSessions(ctx, time.Now()) },
		MailBacklog:  store.CountPendingMails,
		ClockOffset:  func() time.Duration { return svc.ClockOffset() },
		DiskFree:     diskFree(store),
		Build:        metrics.Build(readBuildInfo()),
	}
	onEvent := func(auth.Event) {}
	if bridgeClient != nil {
		a.closers = append(a.closers, bridgeClient.Close)
		src.BridgeBacklog = func() int64 { return bridge.Backlog() }
		src.BridgeFailures = func() int64 { return bridge.Failures() }
		onEvent = func(e auth.Event) { bridge.Event(e) }
	}
	m := metrics.New(prometheus.NewRegistry(), src)
	audit := auditLog(log)
	svc, err = auth.NewService(auth.Config{
		Counter:           counter,
		Store:             store,
		Key:               key,
		Tokens:            a.keys.tokens,
		Hasher:            password.NewHasher(password.DefaultParams()),
		HashLimiter:       hashSlots,
		CacheSize:         cfg.SessionCacheSize,
		AccessTTL:         cfg.AccessTTL,
		SessionTTL:        cfg.SessionTTL,
		RefreshGrace:      cfg.RefreshGrace,
		PasswordMinLength: cfg.PasswordMinLength,
		MaxClockSkew:      cfg.MaxClockSkew,
		Logger:            log,
		OnEvent:           func(e auth.Event) { audit(e); m.Event(e); onEvent(e) },
		OnHashWait:        m.HashWaited,
		ResetTTL:          cfg.Mail.ResetTTL,
		RequireConfirmed:  cfg.Mail.RequireConfirmation,
		PendingTTL:        cfg.MFAPendingTTL,
		StepUpMaxAge:      cfg.StepUpMaxAge,
	})
	if err != nil {
		return fail(err)
	}
	pk, err := newPasskeys(cfg, svc, store)
	if err != nil {
		return fail(err)
	}
	mfaSvc, err := secondFactors(store, svc, key)
	if err != nil {
		return fail(err)
	}
	if bridgeClient != nil {
		bridge = jwtsessions.NewBridge(svc, bridgeClient, cfg.JWTSessionsPrefix, log)
		a.bridge = bridge
	}
	handler := httpapi.NewServer(httpapi.Config{
		Service:          svc,
		Passkeys:         pk,
		MFA:              mfaSvc,
		Logger:           log,
		CookieSecure:     cfg.CookieSecure,
		CookieHostPrefix: cfg.CookieHostPrefix,
		CookieSameSite:   cfg.CookieSameSite,
		CORSOrigins:      cfg.CORSOrigins,
		CORSHeaders:      cfg.CORSHeaders,
		TrustedProxies:   cfg.TrustedProxies,
		IPv6Prefix:       cfg.IPv6Prefix,
		Ready:            readiness(store, svc, uint64(cfg.SQLiteMinFreeMiB)<<20),
		JWKS:             a.keys.tokens.JWKS,
		JWKSMaxAge:       keyring.JWKSMaxAge,
		RequestTimeout:   cfg.HashWait + storeBudget,
		Stop:             ctx.Done(),
		OnRequest:        m.ObserveRequest,
	})
	a.svc, a.handler, a.metrics = svc, handler, m.Handler()
	return a, nil
}

// secondFactors wires TOTP and recovery codes into svc when the store
// keeps them (both backends do); nil otherwise, and the API then has no
// /v1/auth/mfa routes.
func secondFactors(store auth.Store, svc *auth.Service, key []byte) (*mfa.Service, error) {
	ms, ok := store.(mfa.Store)
	if !ok {
		return nil, nil
	}
	m, err := mfa.New(mfa.Config{Auth: svc, Store: ms, Key: key})
	if err != nil {
		return nil, err
	}
	svc.AddSecondFactor(m.TOTPFactor())
	svc.AddSecondFactor(m.RecoveryFactor())
	return m, nil
}

// storeBudget is how long a request may spend on PostgreSQL and Redis on
// top of its wait for a hash slot. A healthy backend answers in
// milliseconds; the bound is for one that stopped answering without
// closing its connections (a hung server, a partition dropping packets).
const storeBudget = 3 * time.Second

// limitMemory keeps the heap near what the node needs, and returns a
// function that stops following it. Each argon2id hash allocates its
// 19 MiB afresh; left alone, the garbage collector lets the heap grow to
// twice the live hashing memory under a sign-in flood, so a soft limit
// (memoryLimit) makes it collect sooner. The limit follows the session
// cache, the one large structure that grows with use: a fixed limit that
// left room for a full cache would let a flood's garbage pile up on a
// fresh node, and one that did not would keep a busy node's collector
// running without end. An operator's GOMEMLIMIT wins. The start-up garbage
// (the dummy hash) is returned to the OS at once, so an idle node stays
// small.
func limitMemory(cfg *Config, svc *auth.Service, getenv func(string) string) (stop func()) {
	debug.FreeOSMemory()
	if getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	slots := cfg.hashSlots()
	follow := func(context.Context) { debug.SetMemoryLimit(memoryLimit(slots, svc.CachedSessions())) }
	follow(context.Background())
	return every(memoryLimitInterval, follow)
}

// memoryLimitInterval is how often the limit follows the cache: a cache
// fills at most by the sign-ins and refreshes of that time, a few MiB.
const memoryLimitInterval = 5 * time.Second

// memoryLimit is a node's soft memory limit: the hash slots' memory,
// 64 MiB for everything else (runtime, buffers, the in-process counter)
// and auth.CachedSessionBytes for each session its cache holds.
func memoryLimit(slots, cachedSessions int) int64 {
	hashing := int64(slots) * int64(password.DefaultParams().Memory) << 10
	return hashing + 64<<20 + int64(cachedSessions)*auth.CachedSessionBytes
}

// hashSlots is --hash-slots, or one slot per CPU the process may use.
func (c *Config) hashSlots() int { return cmp.Or(c.HashSlots, password.DefaultSlots()) }

func newLogger(cfg *Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel, ReplaceAttr: durationText}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// durationText logs every time.Duration as Go writes it ("1.5s", "250ms"):
// the JSON handler would write bare nanoseconds, a number without its unit.
func durationText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

// loggedError is an error already written to the log, which main does not
// print again: with --log-format json every line on stderr stays JSON.
type loggedError struct{ error }

func (e loggedError) Unwrap() error { return e.error }

// logFailure logs the error that ends a command once its logger exists.
func logFailure(log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	log.Error("gatehouse stopped", "err", err)
	return loggedError{err}
}

// auditLog writes the audit trail: one line per auth event, never a secret.
func auditLog(log *slog.Logger) func(auth.Event) {
	return func(e auth.Event) {
		attrs := []slog.Attr{slog.String("event", string(e.Type)), slog.String("ip", e.IP)}
		if e.UserID != 0 {
			attrs = append(attrs, slog.Int64("user_id", e.UserID))
		}
		if e.SessionID != "" {
			attrs = append(attrs, slog.String("session_id", e.SessionID))
		}
		if e.Reason != "" {
			attrs = append(attrs, slog.String("reason", e.Reason))
		}
		log.LogAttrs(context.Background(), slog.LevelInfo, "audit", attrs...)
	}
}
