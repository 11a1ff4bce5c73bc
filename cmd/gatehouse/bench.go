package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/loadgen"
	"github.com/gatehouse/gatehouse/internal/password"
)

// The scenarios, in the order the table shows them: each reference right
// before what is compared with it.
var benchScenarios = []string{"baseline", "verify", "me", "argon2", "register", "sign_in",
	"forgot_known", "forgot_unknown", "refresh", "sign_out"}

const (
	// benchPassword is every benchmark user's password: long enough, not a
	// common password, and never any email's local part.
	benchPassword = "gatehouse-bench-Pw-7f3k9q"
	// requestTimeout bounds one request; serve's WriteTimeout is 30s.
	requestTimeout = 30 * time.Second
)

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
	c := &benchConfig{command: commandLine(args)}
	var levels, scenarios string
	fs := c.flagSet(&levels, &scenarios, stderr)
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
	if err := c.check(set); err != nil {
		return nil, err
	}
	return c, nil
}

// commandLine is the command that reproduces this run, for the report:
// arguments a shell would split or unquote are quoted.
func commandLine(args []string) string {
	cmd := "gatehouse bench"
	for _, a := range args {
		if strings.ContainsAny(a, " \t\"'") {
			a = strconv.Quote(a)
		}
		cmd += " " + a
	}
	return cmd
}

// flagSet defines bench's flags on c. The two lists are left as strings
// for the caller to parse, after --quick has had its say.
func (c *benchConfig) flagSet(levels, scenarios *string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("gatehouse bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.url, "url", "", "load a running server at this loopback URL instead of starting one (start it with --rate-limit=false)")
	fs.StringVar(&c.db, "db", "", "database of the server the bench starts (default: SQLite in a temporary folder, removed afterwards)")
	fs.StringVar(levels, "concurrency", "1,16,64", "comma-separated concurrency levels (clients, each with one request in flight)")
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "measured time per scenario and concurrency")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "unmeasured time before each measurement")
	fs.StringVar(scenarios, "scenarios", strings.Join(benchScenarios, ","), "comma-separated scenarios to run")
	fs.BoolVar(&c.quick, "quick", false, "a run under 30s: concurrency 1,16, 1s cells, 200ms warmup (explicit flags win)")
	fs.StringVar(&c.jsonPath, "json", "", "also write the results as JSON to this file")
	fs.IntVar(&c.seedUsers, "seed-users", 1000, "users (each with one live session) put into the database before the server starts")
	fs.IntVar(&c.flood, "flood", 0, "after the scenarios, this many concurrent sign-ins against a fresh server, reporting its peak memory and 503s")
	fs.IntVar(&c.hashSlots, "hash-slots", password.DefaultSlots(), "the server's --hash-slots, and the raw argon2 workers")
	fs.DurationVar(&c.hashWait, "hash-wait", time.Second, "the server's --hash-wait: how long a sign-in waits for a hash slot before 503")
	fs.Usage = func() { printUsage(fs.Output(), fs, benchUsage) }
	return fs
}

// check validates the parsed c; set names the flags given explicitly.
// With --url it drops the seeding default: there is no database to seed.
func (c *benchConfig) check(set map[string]bool) error {
	if c.url != "" {
		if err := loadgen.CheckLoopback(c.url); err != nil {
			return usagef("--url: %v: this benchmark only loads this machine", err)
		}
		c.url = strings.TrimSuffix(c.url, "/")
		if c.db != "" || set["seed-users"] || c.flood > 0 {
			return usagef("--db, --seed-users and --flood need the server the bench starts; drop --url")
		}
		c.seedUsers = 0
	}
	switch {
	case c.ownServer() && c.seedUsers == 0 && (c.scenarios["sign_in"] || c.scenarios["forgot_known"] || c.flood > 0):
		return usagef("sign_in, forgot_known and --flood use seeded users: --seed-users must be at least 1")
	case c.duration <= 0 || c.warmup < 0:
		return usagef("--duration must be positive and --warmup not negative")
	case c.duration+c.warmup > time.Hour:
		return usagef("--duration plus --warmup must be at most 1h")
	case c.seedUsers < 0 || c.seedUsers > 100_000_000:
		return usagef("--seed-users must be between 0 and 100000000")
	case c.flood < 0 || c.flood > 10_000:
		return usagef("--flood must be between 0 and 10000")
	case c.hashSlots < 1 || c.hashWait < 0:
		return usagef("--hash-slots must be at least 1 and --hash-wait not negative")
	}
	return nil
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
	keyFile  string          // its root secret, made for this run
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
	regSeq  atomic.Int64 // register: a counter for unique emails
}

// run measures everything selected and reports it: prepare the target,
// run the cells level by level, then the flood on a fresh server.
func (b *bench) run(ctx context.Context) error {
	cfg := b.cfg
	b.report = benchReport{
		Date: time.Now().UTC().Format(time.RFC3339), Command: cfg.command, Machine: loadgen.DescribeMachine(),
		HashSlots: cfg.hashSlots, HashWaitS: cfg.hashWait.Seconds(), Argon2: argon2String(b.hasher.Params()),
		Concurrency: cfg.levels, DurationS: cfg.duration.Seconds(), WarmupS: cfg.warmup.Seconds(),
	}
	if err := b.prepareTarget(ctx); err != nil {
		return err
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
	return b.report.save(b.stdout, cfg.jsonPath)
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
