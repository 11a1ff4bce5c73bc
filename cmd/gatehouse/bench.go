package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/bench"
	"github.com/gatehouse/gatehouse/internal/loadgen"
	"github.com/gatehouse/gatehouse/internal/password"
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
  gatehouse bench --url http://127.0.0.1:9999 --api gotrue --scenarios sign_in,me,refresh,sign_out
  gatehouse bench --url http://127.0.0.1:4433 --api kratos --scenarios sign_in,me,sign_out
`

// parseBenchConfig reads bench's flags. Unlike serve it reads no
// GATEHOUSE_* variables: a GATEHOUSE_DB set for production must never
// become the database a benchmark writes into.
func parseBenchConfig(args []string, stderr io.Writer) (*bench.Config, error) {
	c := &bench.Config{Command: commandLine(args)}
	var levels, scenarios string
	var quick bool
	fs := benchFlagSet(c, &levels, &scenarios, &quick, stderr)
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
	if quick {
		if !set["concurrency"] {
			levels = "1,16"
		}
		if !set["duration"] {
			c.Duration = time.Second
		}
		if !set["warmup"] {
			c.Warmup = 200 * time.Millisecond
		}
	}
	var err error
	if c.Levels, err = parseLevels(levels); err != nil {
		return nil, err
	}
	if c.Scenarios, err = parseScenarios(scenarios); err != nil {
		return nil, err
	}
	if err := checkBenchConfig(c, set); err != nil {
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

// benchFlagSet defines bench's flags on c. The two lists are left as
// strings for the caller to parse, after --quick has had its say.
func benchFlagSet(c *bench.Config, levels, scenarios *string, quick *bool, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("gatehouse bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.URL, "url", "", "load a running server at this loopback URL instead of starting one (start it with --rate-limit=false)")
	fs.StringVar(&c.API, "api", "gatehouse", "the API of the server at --url: gatehouse, or gotrue (Supabase Auth) or kratos (Ory Kratos) for a side-by-side run")
	fs.StringVar(&c.DB, "db", "", "database of the server the bench starts (default: SQLite in a temporary folder, removed afterwards)")
	fs.StringVar(levels, "concurrency", "1,16,64", "comma-separated concurrency levels (clients, each with one request in flight)")
	fs.DurationVar(&c.Duration, "duration", 5*time.Second, "measured time per scenario and concurrency")
	fs.DurationVar(&c.Warmup, "warmup", time.Second, "unmeasured time before each measurement")
	fs.StringVar(scenarios, "scenarios", strings.Join(bench.Scenarios, ","), "comma-separated scenarios to run")
	fs.BoolVar(quick, "quick", false, "a run under 30s: concurrency 1,16, 1s cells, 200ms warmup (explicit flags win)")
	fs.StringVar(&c.JSONPath, "json", "", "also write the results as JSON to this file")
	fs.IntVar(&c.SeedUsers, "seed-users", 1000, "users (each with one live session) put into the database before the server starts")
	fs.IntVar(&c.Flood, "flood", 0, "after the scenarios, this many concurrent sign-ins against a fresh server, reporting its peak memory and 503s")
	fs.IntVar(&c.HashSlots, "hash-slots", password.DefaultSlots(), "the server's --hash-slots, and the raw argon2 workers")
	fs.DurationVar(&c.HashWait, "hash-wait", time.Second, "the server's --hash-wait: how long a sign-in waits for a hash slot before 503")
	fs.Usage = func() { printUsage(fs.Output(), fs, benchUsage) }
	return fs
}

// checkBenchConfig validates the parsed c; set names the flags given
// explicitly. With --url it drops the seeding default: there is no
// database to seed.
func checkBenchConfig(c *bench.Config, set map[string]bool) error {
	if c.URL != "" {
		if err := loadgen.CheckLoopback(c.URL); err != nil {
			return usagef("--url: %v: this benchmark only loads this machine", err)
		}
		c.URL = strings.TrimSuffix(c.URL, "/")
		if c.DB != "" || set["seed-users"] || c.Flood > 0 {
			return usagef("--db, --seed-users and --flood need the server the bench starts; drop --url")
		}
		c.SeedUsers = 0
	}
	if err := checkBenchAPI(c); err != nil {
		return err
	}
	switch {
	case c.URL == "" && c.SeedUsers == 0 && (c.Scenarios["sign_in"] || c.Scenarios["forgot_known"] || c.Flood > 0):
		return usagef("sign_in, forgot_known and --flood use seeded users: --seed-users must be at least 1")
	case c.Duration <= 0 || c.Warmup < 0:
		return usagef("--duration must be positive and --warmup not negative")
	case c.Duration+c.Warmup > time.Hour:
		return usagef("--duration plus --warmup must be at most 1h")
	case c.SeedUsers < 0 || c.SeedUsers > 100_000_000:
		return usagef("--seed-users must be between 0 and 100000000")
	case c.Flood < 0 || c.Flood > 10_000:
		return usagef("--flood must be between 0 and 10000")
	case c.HashSlots < 1 || c.HashWait < 0:
		return usagef("--hash-slots must be at least 1 and --hash-wait not negative")
	}
	return nil
}

// checkBenchAPI checks --api: another server's API needs --url (the bench
// starts only Gatehouse) and scenarios that API has.
func checkBenchAPI(c *bench.Config) error {
	switch {
	case !slices.Contains(bench.APIs, c.API):
		return usagef("--api: %q is not one of %s", c.API, strings.Join(bench.APIs, ", "))
	case c.API == "gatehouse":
		return nil
	case c.URL == "":
		return usagef("--api %s needs --url: the bench starts only Gatehouse", c.API)
	}
	for sc := range c.Scenarios {
		if !slices.Contains(bench.PeerScenarios[c.API], sc) {
			return usagef("--api %s: scenario %s has no counterpart there; --scenarios from %s", c.API, sc, strings.Join(bench.PeerScenarios[c.API], ","))
		}
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
		if !slices.Contains(bench.Scenarios, p) {
			return nil, usagef("--scenarios: unknown %q (known: %s)", p, strings.Join(bench.Scenarios, ", "))
		}
		out[p] = true
	}
	if len(out) == 0 {
		return nil, usagef("--scenarios: need at least one")
	}
	return out, nil
}

// runBench is gatehouse bench: it parses the flags and hands the run to
// package bench, with this binary as the servers it starts.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseBenchConfig(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	bin := bench.Binary{Path: exe, Env: serverEnv(), OpenStore: openStore, RedactDSN: redactDSN, Analyze: analyze}
	return bench.Run(ctx, cfg, bin, stdout, stderr)
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
