package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/loadgen"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/token"
)

// The scenarios, in the order the table shows them: each reference right
// before what is compared with it.
var benchScenarios = []string{"baseline", "verify", "me", "argon2", "register", "sign_in", "refresh", "sign_out"}

const (
	// benchPassword is every benchmark user's password: long enough, not a
	// common password, and never any email's local part.
	benchPassword = "gatehouse-bench-Pw-7f3k9q"
	// requestTimeout bounds one request; serve's WriteTimeout is 30s.
	requestTimeout = 30 * time.Second
	// signOutRate is the sign-out rate (per second) the sessions prepared
	// for a sign_out cell are sized for: a little over the 2,000/s target,
	// because each costs a commit to make. A faster server runs out early
	// and its cell is simply shorter.
	signOutRate = 2500
	// sessionsPerUser spreads prepared sessions over users, well below the
	// server's per-user cap, so no sign-in evicts another's session.
	sessionsPerUser = 10
	// seedBatch is the number of rows per seeding transaction.
	seedBatch = 10_000
)

// cheapParams hash the passwords of the users that the bench signs in
// itself to make sessions: the cheapest argon2id allowed, because those
// sign-ins are setup, not measurement.
var cheapParams = password.Params{Memory: 8, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

const benchUsage = `Usage: gatehouse bench [flags]

Measures Gatehouse on this machine: req/s and p50/p90/p99 latency of each
scenario at each concurrency, closed loop, for a fixed time. By default it
starts its own server (gatehouse serve as a child process, on a fresh SQLite
database in a temporary folder) and a bare net/http baseline server the same
way. It only ever connects to loopback addresses.

Scenarios: baseline, verify, me, argon2 (raw hashing in this process),
register, sign_in, refresh, sign_out.

Examples:
  gatehouse bench --quick                      # under 30s
  gatehouse bench --json bench.json            # the full run
  gatehouse bench --seed-users 1000000 --scenarios sign_in,refresh
  gatehouse bench --flood 500 --scenarios verify
  gatehouse bench --url http://127.0.0.1:3000  # a server run with --rate-limit=false

Flags:
`

// benchConfig is the command line of gatehouse bench.
type benchConfig struct {
	url       string
	db        string
	levels    []int
	duration  time.Duration
	warmup    time.Duration
	scenarios map[string]bool
	quick     bool
	jsonPath  string
	seedUsers int
	flood     int
	hashSlots int
	hashWait  time.Duration
	command   string
}

func (c *benchConfig) ownServer() bool { return c.url == "" }

// parseBenchConfig reads bench's flags. Unlike serve it reads no
// GATEHOUSE_* variables: a GATEHOUSE_DB set for production must never
// become the database a benchmark writes into.
func parseBenchConfig(args []string, stderr io.Writer) (*benchConfig, error) {
	c := &benchConfig{command: "gatehouse bench"}
	for _, a := range args {
		if strings.ContainsAny(a, " \t\"'") {
			a = strconv.Quote(a)
		}
		c.command += " " + a
	}
	fs := flag.NewFlagSet("gatehouse bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var levels, scenarios string
	fs.StringVar(&c.url, "url", "", "load a running server at this loopback URL instead of starting one (start it with --rate-limit=false)")
	fs.StringVar(&c.db, "db", "", "database of the server the bench starts (default: SQLite in a temporary folder, removed afterwards)")
	fs.StringVar(&levels, "concurrency", "1,16,64", "comma-separated concurrency levels (clients, each with one request in flight)")
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "measured time per scenario and concurrency")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "unmeasured time before each measurement")
	fs.StringVar(&scenarios, "scenarios", strings.Join(benchScenarios, ","), "comma-separated scenarios to run")
	fs.BoolVar(&c.quick, "quick", false, "a run under 30s: concurrency 1,16, 1s cells, 200ms warmup (explicit flags win)")
	fs.StringVar(&c.jsonPath, "json", "", "also write the results as JSON to this file")
	fs.IntVar(&c.seedUsers, "seed-users", 1000, "users (each with one live session) put into the database before the server starts")
	fs.IntVar(&c.flood, "flood", 0, "after the scenarios, this many concurrent sign-ins against a fresh server, reporting its peak memory and 503s")
	fs.IntVar(&c.hashSlots, "hash-slots", password.DefaultSlots(), "the server's --hash-slots, and the raw argon2 workers")
	fs.DurationVar(&c.hashWait, "hash-wait", time.Second, "the server's --hash-wait: how long a sign-in waits for a hash slot before 503")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), benchUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if c.quick {
		if !set["concurrency"] {
			levels = "1,16"
		}
		if !set["duration"] {
			c.duration = time.Second
		}
		if !set["warmup"] {
			c.warmup = 200 * time.Millisecond
		}
	}
	var err error
	if c.levels, err = parseLevels(levels); err != nil {
		return nil, err
	}
	if c.scenarios, err = parseScenarios(scenarios); err != nil {
		return nil, err
	}
	if c.url != "" {
		if err := loadgen.CheckLoopback(c.url); err != nil {
			return nil, usagef("--url: %v: this benchmark only loads this machine", err)
		}
		c.url = strings.TrimSuffix(c.url, "/")
		if c.db != "" || set["seed-users"] || c.flood > 0 {
			return nil, usagef("--db, --seed-users and --flood need the server the bench starts; drop --url")
		}
		c.seedUsers = 0
	}
	switch {
	case c.ownServer() && c.seedUsers == 0 && (c.scenarios["sign_in"] || c.flood > 0):
		return nil, usagef("sign_in and --flood sign in seeded users: --seed-users must be at least 1")
	case c.duration <= 0 || c.warmup < 0:
		return nil, usagef("--duration must be positive and --warmup not negative")
	case c.duration+c.warmup > time.Hour:
		return nil, usagef("--duration plus --warmup must be at most 1h")
	case c.seedUsers < 0 || c.seedUsers > 100_000_000:
		return nil, usagef("--seed-users must be between 0 and 100000000")
	case c.flood < 0 || c.flood > 10_000:
		return nil, usagef("--flood must be between 0 and 10000")
	case c.hashSlots < 1 || c.hashWait < 0:
		return nil, usagef("--hash-slots must be at least 1 and --hash-wait not negative")
	}
	return c, nil
}

func parseLevels(s string) ([]int, error) {
	var out []int
	for _, p := range splitList(s) {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 10_000 {
			return nil, usagef("--concurrency: %q is not a number from 1 to 10000", p)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil, usagef("--concurrency: need at least one level")
	}
	return out, nil
}

func parseScenarios(s string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, p := range splitList(s) {
		if !slices.Contains(benchScenarios, p) {
			return nil, usagef("--scenarios: unknown %q (known: %s)", p, strings.Join(benchScenarios, ", "))
		}
		out[p] = true
	}
	if len(out) == 0 {
		return nil, usagef("--scenarios: need at least one")
	}
	return out, nil
}

// runBench is gatehouse bench: it measures the service under closed-loop
// load on this machine and prints a table (see the legend it prints).
func runBench(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseBenchConfig(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "gatehouse-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	b := &bench{
		cfg:    cfg,
		stdout: stdout,
		prog:   loadgen.NewStatus(stderr),
		tmp:    tmp,
		runID:  strconv.FormatUint(rand.Uint64()>>24, 36),
		hasher: password.NewHasher(password.DefaultParams()),
		client: loadgen.NewClient(max(slices.Max(cfg.levels), cfg.flood), requestTimeout),
		cells:  map[cellKey]loadgen.Result{},
	}
	defer b.close()
	err = b.run(ctx)
	b.prog.Clear()
	if err != nil {
		return fmt.Errorf("bench: %w%s", err, b.serverLogTail())
	}
	return nil
}

// bench is one run of gatehouse bench.
type bench struct {
	cfg    *benchConfig
	stdout io.Writer
	prog   *loadgen.Status
	tmp    string
	runID  string // makes this run's emails unique in a reused database
	hasher *password.Hasher
	client *http.Client

	dsn      string          // database of the server we start
	server   *loadgen.Server // nil with --url
	baseline *loadgen.Server
	api      string // gatehouse base URL
	logFile  *os.File

	fx     fixtures
	cells  map[cellKey]loadgen.Result
	report benchReport
}

type cellKey struct {
	scenario string
	conc     int
}

// fixtures are what the scenarios need before they start.
type fixtures struct {
	users   int                // sign-in pool: email(1..users), benchPassword
	email   func(i int) string // the email of pool user i
	access  []string           // access tokens for verify and me, one per worker
	refresh []string           // each worker's refresh token, advanced as it chains
	signOut map[int][]string   // access tokens to sign out, per concurrency level
	next    map[int]*atomic.Int64
	regSeq  []int64 // register: per-worker counters for unique emails
}

func (b *bench) run(ctx context.Context) error {
	cfg := b.cfg
	b.report = benchReport{
		Date: time.Now().UTC().Format(time.RFC3339), Command: cfg.command, Machine: loadgen.DescribeMachine(),
		HashSlots: cfg.hashSlots, HashWaitS: cfg.hashWait.Seconds(), Argon2: argon2String(b.hasher.Params()),
		Concurrency: cfg.levels, DurationS: cfg.duration.Seconds(), WarmupS: cfg.warmup.Seconds(),
	}
	switch {
	case !b.needsGatehouse():
		b.report.Target = "none (only baseline and argon2 selected)"
	case cfg.ownServer():
		b.dsn = cfg.db
		if b.dsn == "" {
			b.dsn = "sqlite:" + filepath.Join(b.tmp, "bench.db")
		}
		b.report.Target = "child process: gatehouse serve"
		b.report.Database = redactDSN(b.dsn)
		if cfg.db == "" {
			b.report.Database = "sqlite (temporary folder)"
		}
		if err := b.prepareInProcess(ctx); err != nil {
			return err
		}
		if err := b.startServer(ctx); err != nil {
			return err
		}
		mem, err := b.idleMemory(ctx, b.server)
		if err != nil {
			return err
		}
		b.report.Memory = &memoryReport{IdleRSS: mem.RSS}
	default:
		b.api = cfg.url
		b.report.Target = cfg.url
		if err := b.prepareOverHTTP(ctx); err != nil {
			return err
		}
	}
	if cfg.scenarios["baseline"] {
		if err := b.startBaseline(ctx); err != nil {
			return err
		}
	}
	if err := b.runCells(ctx); err != nil {
		return err
	}
	if b.server != nil {
		mem, err := b.server.Memory()
		if err != nil {
			return err
		}
		b.report.Memory.AfterRSS, b.report.Memory.Peak = mem.RSS, mem.Peak
	}
	if cfg.flood > 0 {
		b.stopServers()
		if err := b.runFlood(ctx); err != nil {
			return err
		}
	}
	b.report.Rows = b.rows()
	b.prog.Clear()
	if err := b.report.write(b.stdout); err != nil {
		return err
	}
	if cfg.jsonPath != "" {
		out, err := json.MarshalIndent(b.report, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(cfg.jsonPath, append(out, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// needsGatehouse reports whether any selected scenario loads Gatehouse.
func (b *bench) needsGatehouse() bool {
	for sc := range b.cfg.scenarios {
		if sc != "baseline" && sc != "argon2" {
			return true
		}
	}
	return b.cfg.flood > 0
}

// runCells runs every selected scenario at every level, level by level,
// so a ratio compares two cells measured seconds apart, not minutes.
func (b *bench) runCells(ctx context.Context) error {
	for _, c := range b.cfg.levels {
		for _, sc := range benchScenarios {
			if !b.cfg.scenarios[sc] {
				continue
			}
			conc := c
			if sc == "argon2" {
				conc = min(c, b.cfg.hashSlots)
				if _, done := b.cells[cellKey{sc, conc}]; done {
					continue
				}
			}
			o := loadgen.Options{Concurrency: conc, Warmup: b.cfg.warmup, Duration: b.cfg.duration, CPU: b.cpuOf(sc)}
			res := b.cell(ctx, fmt.Sprintf("%s c=%d", sc, conc), o, b.doer(sc, c))
			if err := ctx.Err(); err != nil {
				return err
			}
			b.cells[cellKey{sc, conc}] = res
		}
	}
	return nil
}

// cell runs one measurement, showing progress, and prints its result.
func (b *bench) cell(ctx context.Context, label string, o loadgen.Options, do func(context.Context, int) error) loadgen.Result {
	o.Progress = func(p loadgen.Progress) { b.prog.Live("%s  %s", label, progressText(p, o.Warmup)) }
	res := loadgen.Run(ctx, o, do)
	b.prog.Line("bench: %-18s %9.1f req/s  p99 %-8s %d errors", label, res.RPS, loadgen.FormatDuration(res.P99), res.Errors)
	return res
}

func progressText(p loadgen.Progress, warmup time.Duration) string {
	at := fmt.Sprintf("%.1f/%.1fs", p.Elapsed.Seconds(), p.Total.Seconds())
	if p.Warmup {
		return at + "  warming up"
	}
	rate := float64(p.Requests) / max(p.Elapsed-warmup, time.Millisecond).Seconds()
	return fmt.Sprintf("%s  %d ok  %d errors  ~%.0f req/s", at, p.Requests, p.Errors, rate)
}

// cpuOf returns the CPU-time counter of the process that does the work of
// scenario sc, or nil if it is not ours to read.
func (b *bench) cpuOf(sc string) func() time.Duration {
	switch {
	case sc == "argon2":
		return func() time.Duration {
			d, _ := loadgen.ProcessCPU(os.Getpid())
			return d
		}
	case sc == "baseline":
		return b.baseline.CPU
	case b.server != nil:
		return b.server.CPU
	}
	return nil
}

// doer returns the request loop body of scenario sc at level c.
func (b *bench) doer(sc string, c int) func(context.Context, int) error {
	fx := &b.fx
	switch sc {
	case "baseline":
		return func(ctx context.Context, w int) error {
			return b.send(ctx, apiCall{method: http.MethodGet, url: b.baseline.URL + "/", want: http.StatusOK})
		}
	case "argon2":
		return func(ctx context.Context, w int) error {
			_, err := b.hasher.Hash(benchPassword)
			return err
		}
	case "verify", "me":
		return func(ctx context.Context, w int) error {
			return b.send(ctx, apiCall{method: http.MethodGet, url: b.api + "/v1/auth/" + sc, bearer: fx.access[w], want: http.StatusOK})
		}
	case "register":
		return func(ctx context.Context, w int) error {
			fx.regSeq[w]++
			email := fmt.Sprintf("r%s-%d-%d@bench.example.com", b.runID, w, fx.regSeq[w])
			body := fmt.Appendf(nil, `{"email":%q,"password":%q,"password_confirmation":%q}`, email, benchPassword, benchPassword)
			return b.send(ctx, apiCall{method: http.MethodPost, url: b.api + "/v1/auth", body: body, tokens: true, want: http.StatusCreated})
		}
	case "sign_in":
		return func(ctx context.Context, w int) error { return b.signIn(ctx, rand.IntN(fx.users)+1, nil) }
	case "refresh":
		return func(ctx context.Context, w int) error {
			var g grantBody
			err := b.send(ctx, apiCall{method: http.MethodPost, url: b.api + "/v1/auth/refresh", refresh: fx.refresh[w], tokens: true, want: http.StatusOK}, &g)
			if err == nil {
				fx.refresh[w] = g.Refresh
			}
			return err
		}
	case "sign_out":
		toks, next := fx.signOut[c], fx.next[c]
		return func(ctx context.Context, w int) error {
			i := next.Add(1) - 1
			if i >= int64(len(toks)) {
				return loadgen.ErrStop
			}
			return b.send(ctx, apiCall{method: http.MethodDelete, url: b.api + "/v1/auth/sign_out", bearer: toks[i], want: http.StatusOK})
		}
	}
	panic("bench: no scenario " + sc)
}

// signIn signs pool user i in, decoding the tokens into g if it is not nil.
func (b *bench) signIn(ctx context.Context, i int, g *grantBody) error {
	body := fmt.Appendf(nil, `{"email":%q,"password":%q}`, b.fx.email(i), benchPassword)
	var out []any
	if g != nil {
		out = append(out, g)
	}
	return b.send(ctx, apiCall{method: http.MethodPost, url: b.api + "/v1/auth/sign_in", body: body, tokens: true, want: http.StatusOK}, out...)
}

// apiCall is one request of the header transport.
type apiCall struct {
	method, url string
	body        []byte
	bearer      string // Authorization: Bearer
	refresh     string // X-Refresh-Token
	tokens      bool   // X-Auth-Transport: token
	want        int
}

// grantBody is the token-transport body of register, sign-in and refresh.
type grantBody struct {
	Access  string `json:"access"`
	Refresh string `json:"refresh"`
}

// statusError is an answer other than the one a scenario expects.
type statusError struct {
	call string
	code int
	body string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s: status %d: %s", e.call, e.code, e.body)
}

// send makes c and checks its status, decoding a JSON body into out[0] if
// given. The body is always read to the end so the connection is reused.
func (b *bench) send(ctx context.Context, c apiCall, out ...any) error {
	var body io.Reader
	if c.body != nil {
		body = bytes.NewReader(c.body)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, c.url, body)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "gatehouse-bench")
	if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	if c.refresh != "" {
		req.Header.Set("X-Refresh-Token", c.refresh)
	}
	if c.tokens {
		req.Header.Set("X-Auth-Transport", "token")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != c.want {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		io.Copy(io.Discard, resp.Body)
		return &statusError{call: c.method + " " + req.URL.Path, code: resp.StatusCode, body: strings.TrimSpace(string(msg))}
	}
	if len(out) > 0 {
		err = json.NewDecoder(resp.Body).Decode(out[0])
	}
	io.Copy(io.Discard, resp.Body)
	return err
}

// sessionsWanted is how many ready sessions the selected scenarios need:
// one per worker for verify and me, one per worker for refresh (chained
// from level to level), and a fresh one per request for sign_out.
func (b *bench) sessionsWanted() (access, refresh int, signOut map[int]int) {
	maxC := slices.Max(b.cfg.levels)
	if b.cfg.scenarios["verify"] || b.cfg.scenarios["me"] {
		access = maxC
	}
	if b.cfg.scenarios["refresh"] {
		refresh = maxC
	}
	signOut = map[int]int{}
	if b.cfg.scenarios["sign_out"] {
		window := (b.cfg.warmup + b.cfg.duration).Seconds()
		for _, c := range b.cfg.levels {
			signOut[c] = max(int(window*signOutRate), 10*c)
		}
	}
	return access, refresh, signOut
}

// prepareInProcess fills the database before the server starts: the
// seeded users (the sign-in pool), and the sessions the scenarios need,
// made by signing in, in this process, users whose password hashes are
// cheap. The server then loads the same signing key from the database, so
// it accepts those sessions' tokens.
func (b *bench) prepareInProcess(ctx context.Context) error {
	store, err := openStore(ctx, b.dsn)
	if err != nil {
		return err
	}
	defer store.Close()
	b.fx.users = b.cfg.seedUsers
	b.fx.email = func(i int) string { return fmt.Sprintf("user%d@bench.example.com", i) }
	if b.cfg.seedUsers > 0 {
		seed, err := b.seed(ctx, store, b.cfg.seedUsers)
		if err != nil {
			return err
		}
		b.report.Seed = seed
	}

	access, refresh, signOut := b.sessionsWanted()
	n := access + refresh
	for _, s := range signOut {
		n += s
	}
	if n == 0 {
		return nil
	}
	key, err := signingKey(ctx, &Config{}, store)
	if err != nil {
		return err
	}
	const workers = 4
	svc, err := auth.NewService(auth.Config{
		Store: store, Key: key, Hasher: password.NewHasher(cheapParams),
		HashLimiter: password.NewLimiter(workers, time.Minute), MaxSessionsPerUser: 2 * sessionsPerUser,
	})
	if err != nil {
		return err
	}
	start := time.Now()
	grants, err := b.mintSessions(ctx, svc, n, workers)
	if err != nil {
		return err
	}
	b.report.Setup = append(b.report.Setup, fmt.Sprintf("%d sessions for verify, me, refresh and sign_out made in-process in %v (%.0f/s)",
		n, time.Since(start).Round(time.Millisecond), float64(n)/time.Since(start).Seconds()))
	b.hand(grants)
	return nil
}

// mintSessions makes n sessions in process with svc: users registered with
// cheap hashes, each then signed in up to sessionsPerUser times.
func (b *bench) mintSessions(ctx context.Context, svc *auth.Service, n, workers int) ([]grantBody, error) {
	client := auth.Client{IP: "127.0.0.1", UserAgent: "gatehouse-bench"}
	users := (n + sessionsPerUser - 1) / sessionsPerUser
	var (
		mu     sync.Mutex
		grants []grantBody
		errs   = make([]error, workers)
		wg     sync.WaitGroup
		left   atomic.Int64
	)
	left.Store(int64(users))
	for w := range workers {
		wg.Go(func() {
			for u := left.Add(-1); u >= 0 && ctx.Err() == nil; u = left.Add(-1) {
				email := fmt.Sprintf("s%s-%d@bench.example.com", b.runID, u)
				g, err := svc.Register(ctx, auth.Registration{Email: email, Password: benchPassword, PasswordConfirmation: benchPassword, Client: client})
				batch := []grantBody{}
				for i := 0; err == nil; i++ {
					batch = append(batch, grantBody{Access: g.AccessToken, Refresh: g.RefreshToken})
					if i+1 == sessionsPerUser {
						break
					}
					g, err = svc.SignIn(ctx, auth.Credentials{Email: email, Password: benchPassword, Client: client})
				}
				if err != nil {
					errs[w] = fmt.Errorf("make sessions: %w", err)
					return
				}
				mu.Lock()
				grants = append(grants, batch...)
				done := len(grants)
				mu.Unlock()
				b.prog.Live("making sessions %d/%d", min(done, n), n)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(append(errs, ctx.Err())...); err != nil {
		return nil, err
	}
	return grants[:n], nil
}

// prepareOverHTTP readies a server the bench did not start: it registers
// the sign-in pool and signs in for the sessions the scenarios need. Each
// costs a password hash on the server, so sign-out sessions are made for
// at most one cell's time per level; a sign_out cell ends when they run out.
func (b *bench) prepareOverHTTP(ctx context.Context) error {
	maxC := slices.Max(b.cfg.levels)
	b.fx.users = maxC
	b.fx.email = func(i int) string { return fmt.Sprintf("user%d-%s@bench.example.com", i, b.runID) }
	access, refresh, signOut := b.sessionsWanted()
	start := time.Now()
	pool := make([]grantBody, maxC)
	err := b.parallel(ctx, maxC, b.cfg.hashSlots, "registering users", func(ctx context.Context, i int) error {
		body := fmt.Appendf(nil, `{"email":%q,"password":%q,"password_confirmation":%q}`, b.fx.email(i+1), benchPassword, benchPassword)
		return b.send(ctx, apiCall{method: http.MethodPost, url: b.api + "/v1/auth", body: body, tokens: true, want: http.StatusCreated}, &pool[i])
	})
	if err != nil {
		return fmt.Errorf("register the sign-in pool at %s (is it running with --rate-limit=false?): %w", b.api, err)
	}
	more := make([]grantBody, refresh)
	err = b.parallel(ctx, refresh, b.cfg.hashSlots, "signing in", func(ctx context.Context, i int) error {
		return b.signIn(ctx, i%maxC+1, &more[i])
	})
	if err != nil {
		return err
	}
	grants := append(pool[:access], more...)
	for _, c := range b.cfg.levels {
		if signOut[c] == 0 {
			continue
		}
		out := make([]grantBody, signOut[c])
		budget, cancel := context.WithTimeout(ctx, b.cfg.warmup+b.cfg.duration)
		err := b.parallel(budget, signOut[c], b.cfg.hashSlots, fmt.Sprintf("signing in for sign_out c=%d", c), func(ctx context.Context, i int) error {
			return b.signIn(ctx, i%maxC+1, &out[i])
		})
		cancel()
		if err := ctx.Err(); err != nil {
			return err
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		for _, g := range out {
			if g.Access != "" {
				grants = append(grants, g)
			}
		}
	}
	b.report.Setup = append(b.report.Setup, fmt.Sprintf("sign-in pool of %d users and %d sessions made over HTTP in %v",
		maxC, len(grants), time.Since(start).Round(time.Millisecond)))
	b.hand(grants)
	return nil
}

// hand distributes ready sessions to the scenarios that need them, in the
// order sessionsWanted counts them; sign_out takes what is left, which
// over HTTP may be less than it wanted.
func (b *bench) hand(grants []grantBody) {
	access, refresh, signOut := b.sessionsWanted()
	take := func(n int) []grantBody {
		n = min(n, len(grants))
		g := grants[:n]
		grants = grants[n:]
		return g
	}
	for _, g := range take(access) {
		b.fx.access = append(b.fx.access, g.Access)
	}
	for _, g := range take(refresh) {
		b.fx.refresh = append(b.fx.refresh, g.Refresh)
	}
	b.fx.signOut = map[int][]string{}
	b.fx.next = map[int]*atomic.Int64{}
	for _, c := range b.cfg.levels {
		for _, g := range take(signOut[c]) {
			b.fx.signOut[c] = append(b.fx.signOut[c], g.Access)
		}
		b.fx.next[c] = new(atomic.Int64)
	}
	b.fx.regSeq = make([]int64, slices.Max(b.cfg.levels))
}

// parallel runs fn for 0..total-1 on workers goroutines, stopping at the
// first error, and shows progress as what, unless it is empty.
func (b *bench) parallel(ctx context.Context, total, workers int, what string, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next, done atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, total) {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(total) && ctx.Err() == nil; i = next.Add(1) - 1 {
				if err := fn(ctx, int(i)); err != nil {
					cancel(err)
					return
				}
				if n := done.Add(1); what != "" {
					b.prog.Live("%s %d/%d", what, n, total)
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// serverEnv is the environment of the servers the bench starts: this
// process's, without GATEHOUSE_* settings (a production GATEHOUSE_REDIS or
// GATEHOUSE_SECRET must not leak into a benchmark; the bench passes what the
// server needs as flags). GATEHOUSE_TEST_* hooks pass, so the tests can run
// the test binary as the server.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GATEHOUSE_") && !strings.HasPrefix(kv, "GATEHOUSE_TEST_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// startChild starts this binary with args as a server on loopback and
// waits until ready answers 200.
func (b *bench) startChild(ctx context.Context, ready string, args ...string) (*loadgen.Server, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if b.logFile == nil {
		if b.logFile, err = os.Create(filepath.Join(b.tmp, "server.log")); err != nil {
			return nil, err
		}
	}
	b.prog.Live("starting %s", args[0])
	s, err := loadgen.StartServer(ctx, exe, args, serverEnv(), b.logFile, 30*time.Second)
	if err != nil {
		return nil, err
	}
	if err := loadgen.WaitReady(ctx, b.client, s.URL+ready, 30*time.Second); err != nil {
		s.Stop(5 * time.Second)
		return nil, err
	}
	return s, nil
}

func (b *bench) startServer(ctx context.Context) error {
	s, err := b.startChild(ctx, "/readyz", "serve", "--addr", "127.0.0.1:0", "--db", b.dsn,
		"--rate-limit=false", "--cookie-secure=false",
		"--hash-slots", strconv.Itoa(b.cfg.hashSlots), "--hash-wait", b.cfg.hashWait.String())
	if err != nil {
		return err
	}
	b.server, b.api = s, s.URL
	return nil
}

func (b *bench) startBaseline(ctx context.Context) error {
	s, err := b.startChild(ctx, "/", "bench-baseline")
	b.baseline = s
	return err
}

func (b *bench) stopServers() {
	for _, s := range []**loadgen.Server{&b.server, &b.baseline} {
		if *s != nil {
			(*s).Stop(20 * time.Second)
			*s = nil
		}
	}
}

// close stops the servers and closes their log.
func (b *bench) close() {
	b.stopServers()
	if b.logFile != nil {
		b.logFile.Close()
	}
}

// serverLogTail returns the end of the servers' stderr, to explain a
// failure.
func (b *bench) serverLogTail() string {
	if b.logFile == nil {
		return ""
	}
	out, err := os.ReadFile(b.logFile.Name())
	if err != nil || len(out) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return "\nlast lines of the server's log:\n" + strings.Join(lines[max(0, len(lines)-10):], "\n")
}

// idleMemory lets a fresh server settle, then reads its memory.
func (b *bench) idleMemory(ctx context.Context, s *loadgen.Server) (loadgen.Memory, error) {
	b.prog.Live("server idle, reading its memory")
	select {
	case <-ctx.Done():
		return loadgen.Memory{}, ctx.Err()
	case <-time.After(min(time.Second, b.cfg.duration)):
	}
	return s.Memory()
}

// runBenchBaseline is the hidden bench-baseline command: a bare net/http
// handler answering 200 "ok", run as a child of gatehouse bench with the
// same http.Server settings as serve, so the gap between it and verify is
// the work of Gatehouse itself.
func runBenchBaseline(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gatehouse bench-baseline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return usagef("%v", err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	ok := []byte("ok")
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(ok) }),
		// As serve.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
	}
	fmt.Fprintf(stdout, "gatehouse bench-baseline listening on http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// newSeedSession is the live session a seeded user gets.
func newSeedSession(userID int64, now time.Time) auth.Session {
	exp := now.Add(7 * 24 * time.Hour)
	return auth.Session{
		ID: token.NewUID(), UserID: userID, RotatedAt: now, AccessExpiresAt: now.Add(time.Hour).Truncate(time.Second),
		CreatedAt: now, LastUsedAt: now, ExpiresAt: exp, IP: "127.0.0.1", UserAgent: "gatehouse-bench",
	}
}

// sessionImporter is a bulk insert of sessions in few transactions. A
// store that has it seeds a million sessions in seconds; without it each
// seeded session is one CreateSession, one commit.
type sessionImporter interface {
	ImportSessions(ctx context.Context, sessions []auth.Session) error
}

// seedReport is what --seed-users did.
type seedReport struct {
	Users        int     `json:"users"`
	Inserted     int     `json:"inserted"`
	Existing     int     `json:"existing"`
	Conflicts    int     `json:"conflicts"`
	UsersS       float64 `json:"users_seconds"`
	Sessions     int     `json:"sessions"`
	SessionsS    float64 `json:"sessions_seconds"`
	BulkSessions bool    `json:"bulk_sessions"`
}

// seed puts users 1..n (email fx.email(i), password benchPassword) into
// store, sharing one precomputed hash, in transactions of seedBatch rows,
// and gives each user it inserted one live session. Seeding a database
// seeded before is harmless: existing users are left as they are.
func (b *bench) seed(ctx context.Context, store auth.Store, n int) (*seedReport, error) {
	b.prog.Live("hashing the seed users' password")
	hash, err := b.hasher.Hash(benchPassword)
	if err != nil {
		return nil, err
	}
	rep := &seedReport{Users: n}
	now := time.Now().UTC().Truncate(time.Microsecond)
	start := time.Now()
	var fresh []int64
	users := make([]auth.User, 0, min(n, seedBatch))
	for from := 1; from <= n; from += seedBatch {
		users = users[:0]
		for id := from; id < from+seedBatch && id <= n; id++ {
			users = append(users, auth.User{ID: int64(id), Email: b.fx.email(id), PasswordHash: hash, CreatedAt: now, UpdatedAt: now})
		}
		statuses, err := store.ImportUsers(ctx, users)
		if err != nil {
			return nil, fmt.Errorf("seed users: %w", err)
		}
		for i, st := range statuses {
			switch st {
			case auth.ImportInserted:
				rep.Inserted++
				fresh = append(fresh, users[i].ID)
			case auth.ImportUnchanged:
				rep.Existing++
			default:
				rep.Conflicts++
			}
		}
		b.prog.Live("seeding users %d/%d  %s", from+len(users)-1, n, perSecond(from+len(users)-1, time.Since(start)))
	}
	rep.UsersS = time.Since(start).Seconds()
	if rep.Conflicts > 0 {
		b.prog.Line("bench: warning: %d seed users conflict with other users in %s; signing them in will fail", rep.Conflicts, redactDSN(b.dsn))
	}

	start = time.Now()
	imp, bulk := store.(sessionImporter)
	rep.BulkSessions = bulk
	var made atomic.Int64
	show := func() {
		b.prog.Live("seeding sessions %d/%d  %s", made.Load(), len(fresh), perSecond(int(made.Load()), time.Since(start)))
	}
	if bulk {
		batch := make([]auth.Session, 0, seedBatch)
		for from := 0; from < len(fresh); from += seedBatch {
			batch = batch[:0]
			for _, id := range fresh[from:min(from+seedBatch, len(fresh))] {
				batch = append(batch, newSeedSession(id, now))
			}
			if err := imp.ImportSessions(ctx, batch); err != nil {
				return nil, fmt.Errorf("seed sessions: %w", err)
			}
			made.Add(int64(len(batch)))
			show()
		}
	} else {
		// One commit each: several goroutines keep the single writer busy
		// while the others prepare their statement.
		err := b.parallel(ctx, len(fresh), 4, "", func(ctx context.Context, i int) error {
			s := newSeedSession(fresh[i], now)
			if _, err := store.CreateSession(ctx, &s, 0); err != nil {
				return fmt.Errorf("seed sessions: %w", err)
			}
			if made.Add(1)%256 == 0 {
				show()
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	rep.Sessions = int(made.Load())
	rep.SessionsS = time.Since(start).Seconds()
	return rep, nil
}

func perSecond(n int, d time.Duration) string {
	return fmt.Sprintf("(%.0f rows/s)", float64(n)/max(d, time.Millisecond).Seconds())
}

// floodReport is what --flood measured.
type floodReport struct {
	Connections int            `json:"connections"`
	DurationS   float64        `json:"duration_s"`
	Statuses    map[string]int `json:"statuses"`
	// OK is the successful sign-ins; Unavailable the 503 answers' latency.
	OK          loadgen.Result `json:"ok"`
	Unavailable struct {
		P50ms float64 `json:"p50_ms"`
		P99ms float64 `json:"p99_ms"`
		MaxMS float64 `json:"max_ms"`
	} `json:"unavailable"`
	IdleRSS  int64 `json:"idle_rss_bytes"`
	PeakRSS  int64 `json:"peak_rss_bytes"`
	BoundRSS int64 `json:"bound_rss_bytes"`
}

// runFlood starts a fresh server (so its peak memory is the flood's) and
// has cfg.flood clients sign in at once for the cell duration, without
// warmup: the ramp is part of a flood.
func (b *bench) runFlood(ctx context.Context) error {
	if err := b.startServer(ctx); err != nil {
		return err
	}
	idle, err := b.idleMemory(ctx, b.server)
	if err != nil {
		return err
	}
	rep := &floodReport{Connections: b.cfg.flood, DurationS: b.cfg.duration.Seconds(), IdleRSS: idle.RSS, Statuses: map[string]int{}}
	rep.BoundRSS = int64(b.cfg.hashSlots)*int64(b.hasher.Params().Memory)<<10 + 100<<20

	var mu sync.Mutex
	unavailable := loadgen.NewHistogram()
	count := func(k string) { mu.Lock(); rep.Statuses[k]++; mu.Unlock() }
	var peak atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if m, err := b.server.Memory(); err == nil {
				peak.Store(max(peak.Load(), m.RSS, m.Peak))
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	o := loadgen.Options{Concurrency: b.cfg.flood, Duration: b.cfg.duration}
	rep.OK = b.cell(ctx, "flood sign_in", o, func(ctx context.Context, w int) error {
		t0 := time.Now()
		err := b.signIn(ctx, rand.IntN(b.fx.users)+1, nil)
		var se *statusError
		switch {
		case err == nil:
			count("200")
		case errors.As(err, &se):
			count(strconv.Itoa(se.code))
			if se.code == http.StatusServiceUnavailable {
				unavailable.Record(time.Since(t0))
			}
		default:
			count("transport error")
		}
		return err
	})
	close(stop)
	<-sampled
	if err := ctx.Err(); err != nil {
		return err
	}
	rep.PeakRSS = peak.Load()
	rep.Unavailable.P50ms = durationMS(unavailable.Quantile(0.5))
	rep.Unavailable.P99ms = durationMS(unavailable.Quantile(0.99))
	rep.Unavailable.MaxMS = durationMS(unavailable.Max())
	b.report.Flood = rep
	b.stopServers()
	return nil
}

func durationMS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// rows turns the measured cells into table rows with their ratios.
func (b *bench) rows() []loadgen.Row {
	var rows []loadgen.Row
	for _, sc := range benchScenarios {
		var levels []int
		for k := range b.cells {
			if k.scenario == sc {
				levels = append(levels, k.conc)
			}
		}
		slices.Sort(levels)
		for _, c := range levels {
			r := loadgen.Row{Scenario: sc, Concurrency: c, Result: b.cells[cellKey{sc, c}]}
			ref := cellKey{"baseline", c}
			switch sc {
			case "register", "sign_in":
				ref = cellKey{"argon2", min(c, b.cfg.hashSlots)}
			case "verify", "me":
			default:
				ref = cellKey{}
			}
			if want, ok := b.cells[ref]; ok && want.RPS > 0 {
				r.Versus = ref.scenario
				r.Ratio = r.Result.RPS / want.RPS
				if ref.scenario == "argon2" {
					r.Versus = fmt.Sprintf("argon2@%d", ref.conc)
				} else if want.P99 > 0 {
					r.P99Ratio = float64(r.Result.P99) / float64(want.P99)
				}
			}
			if sc == "sign_out" && r.Result.Elapsed < b.cfg.duration {
				r.Note = fmt.Sprintf("sessions ran out after %v", r.Result.Elapsed.Round(time.Millisecond))
			}
			rows = append(rows, r)
		}
	}
	return rows
}

// benchReport is the whole result: the table, and everything needed to
// reproduce and judge it. --json writes it as is.
type benchReport struct {
	Date        string          `json:"date"`
	Command     string          `json:"command"`
	Machine     loadgen.Machine `json:"machine"`
	Target      string          `json:"target"`
	Database    string          `json:"database,omitempty"`
	HashSlots   int             `json:"hash_slots"`
	HashWaitS   float64         `json:"hash_wait_s"`
	Argon2      string          `json:"argon2"`
	Concurrency []int           `json:"concurrency"`
	DurationS   float64         `json:"duration_s"`
	WarmupS     float64         `json:"warmup_s"`
	Seed        *seedReport     `json:"seed,omitempty"`
	Setup       []string        `json:"setup,omitempty"`
	Rows        []loadgen.Row   `json:"rows"`
	Memory      *memoryReport   `json:"server_memory,omitempty"`
	Flood       *floodReport    `json:"flood,omitempty"`
}

// memoryReport is the server process's resident memory.
type memoryReport struct {
	IdleRSS  int64 `json:"idle_rss_bytes"`       // fresh, before any load
	AfterRSS int64 `json:"after_load_rss_bytes"` // after the scenarios
	Peak     int64 `json:"peak_rss_bytes"`       // VmHWM over its life
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

func argon2String(p password.Params) string {
	return fmt.Sprintf("argon2id m=%d t=%d p=%d", p.Memory, p.Time, p.Threads)
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// write prints the report as text: a header, the table, memory, and a
// legend saying exactly what each number means.
func (r *benchReport) write(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "gatehouse bench, %s\n", r.Date)
	fmt.Fprintf(&b, "command:  %s\n", r.Command)
	fmt.Fprintf(&b, "machine:  %s\n", r.Machine)
	fmt.Fprintf(&b, "server:   %s; %s; hash slots %d, hash wait %gs; %s\n",
		r.Target, cmp.Or(r.Database, "its own database"), r.HashSlots, r.HashWaitS, r.Argon2)
	fmt.Fprintf(&b, "cells:    concurrency %s; %v warmup + %v measured each\n",
		joinInts(r.Concurrency),
		time.Duration(r.WarmupS*float64(time.Second)), time.Duration(r.DurationS*float64(time.Second)))
	if s := r.Seed; s != nil {
		how := "one commit each"
		if s.BulkSessions {
			how = "bulk"
		}
		fmt.Fprintf(&b, "seeded:   %d users (%d new, %d already there, %d conflicts) in %.1fs %s; %d sessions in %.1fs %s, %s\n",
			s.Users, s.Inserted, s.Existing, s.Conflicts, s.UsersS, perSecond(s.Inserted, time.Duration(s.UsersS*float64(time.Second))),
			s.Sessions, s.SessionsS, perSecond(s.Sessions, time.Duration(s.SessionsS*float64(time.Second))), how)
	}
	for _, s := range r.Setup {
		fmt.Fprintf(&b, "setup:    %s\n", s)
	}
	b.WriteString("\n")
	if err := loadgen.WriteTable(&b, r.Rows); err != nil {
		return err
	}
	b.WriteString("\n")
	for _, row := range r.Rows {
		if row.Result.FirstError != "" {
			fmt.Fprintf(&b, "first error of %s c=%d: %s\n", row.Scenario, row.Concurrency, row.Result.FirstError)
		}
	}
	if m := r.Memory; m != nil {
		fmt.Fprintf(&b, "server memory: idle %s, after load %s, peak %s (VmRSS, VmRSS, VmHWM of the server process)\n",
			mib(m.IdleRSS), mib(m.AfterRSS), mib(m.Peak))
	}
	if f := r.Flood; f != nil {
		var st []string
		for _, k := range slices.Sorted(maps.Keys(f.Statuses)) {
			st = append(st, fmt.Sprintf("%s ×%d", k, f.Statuses[k]))
		}
		fmt.Fprintf(&b, "flood: %d concurrent sign-ins for %gs on a fresh server: %s\n", f.Connections, f.DurationS, strings.Join(st, ", "))
		fmt.Fprintf(&b, "       200: %.1f/s, p99 %s; 503: p50 %.1fms, p99 %.1fms, max %.1fms\n",
			f.OK.RPS, loadgen.FormatDuration(f.OK.P99), f.Unavailable.P50ms, f.Unavailable.P99ms, f.Unavailable.MaxMS)
		fmt.Fprintf(&b, "       server RSS idle %s, peak %s; bound %s (hash slots × argon2 memory + 100 MiB)\n",
			mib(f.IdleRSS), mib(f.PeakRSS), mib(f.BoundRSS))
	}
	b.WriteString(benchLegend)
	_, err := io.WriteString(w, b.String())
	return err
}

const benchLegend = `
How to read this:
  Closed loop: conc clients each send their next request as soon as the
  previous one is answered, over keep-alive connections to loopback. req/s
  counts successful answers in the measured window (after the warmup);
  errors are every other answer, kept out of the latencies. cpu/req: CPU
  time (user + system, in 10ms ticks) the server process used in the window
  per request answered (argon2: this process's per hash); unlike req/s it
  hardly depends on what else runs on the machine.
  The load generator (this process) and the server (a child process running
  gatehouse serve, as in production) share this machine's CPUs.
  baseline: a bare net/http handler answering 200 "ok", in a second child
  process with serve's http.Server settings, loaded by the same client code.
  verify, me: ratio = req/s ÷ baseline req/s at the same conc; p99× = p99 ÷
  baseline p99. Both pay the same client and HTTP costs, so the gap is the
  work of Gatehouse (token check, session cache, JSON, logging).
  argon2: password hashes in this process with the server's parameters;
  conc = workers. register, sign_in: ratio = req/s ÷ argon2@N, N = min(conc,
  hash slots): a server can hash at most hash-slots passwords at once, and
  one request at a time cannot use more than one core, so that is the most
  it could do at that concurrency. The server runs at most hash-slots hashes
  at once, and a sign-in waiting longer than --hash-wait is a 503.
  refresh: each client chains its own session (each answer's refresh token is
  its next request's). sign_out: each request ends a fresh session, made
  before the server started by signing in, in this process, users with cheap
  hashes (so not in the server's session cache: each sign-out reads its
  session once); a cell that runs out of them ends early, and its req/s is
  over the shorter time.
`
