package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/bench"
	"github.com/gatehouse/gatehouse/internal/loadgen"
)

func noEnv(string) string { return "" }

// TestBenchEndToEnd runs the real bench with tiny cells: the servers it
// starts are this test binary re-run as gatehouse (see TestMain).
func TestBenchEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	t.Setenv(childEnv, "1") // inherited by the children, not read by this process
	jsonPath := filepath.Join(t.TempDir(), "bench.json")
	var stdout, stderr lockedBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := run(ctx, []string{"bench", "--quick", "--duration", "200ms", "--warmup", "50ms", "--concurrency", "1,4",
		"--seed-users", "20", "--flood", "8", "--json", jsonPath}, noEnv, noStdin, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run(bench): %v\nstderr:\n%s", err, stderr.String())
	}

	out := stdout.String()
	for _, want := range []string{"scenario", "baseline", "verify", "sign_out", "server memory: idle", "flood: 8 concurrent sign-ins", "How to read this"} {
		if !strings.Contains(out, want) {
			t.Errorf("bench stdout lacks %q:\n%s", want, out)
		}
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep bench.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("bench --json wrote invalid JSON: %v\n%s", err, b)
	}
	if rep.Machine.CPUs == 0 || rep.Command == "" || rep.Seed == nil || rep.Seed.Inserted != 20 {
		t.Errorf("bench JSON: machine %+v, command %q, seed %+v; want them filled, 20 users seeded", rep.Machine, rep.Command, rep.Seed)
	}
	type cellKey struct {
		scenario string
		conc     int
	}
	got := map[cellKey]loadgen.Row{}
	for _, r := range rep.Rows {
		got[cellKey{r.Scenario, r.Concurrency}] = r
	}
	for _, sc := range bench.Scenarios {
		for _, c := range []int{1, 4} {
			if sc == "argon2" {
				c = min(c, rep.HashSlots)
			}
			r, ok := got[cellKey{sc, c}]
			switch {
			case !ok:
				t.Errorf("bench JSON has no row for %s c=%d", sc, c)
			case sc == "argon2" || sc == "register" || sc == "sign_in":
				// A hash can take longer than these tiny cells on a busy
				// machine or under the race detector, and queue into 503s:
				// the row is all that is sure.
			case r.Result.Requests == 0 || r.Result.Errors != 0:
				t.Errorf("%s c=%d: %d requests, %d errors (first: %s); want some and no errors",
					sc, c, r.Result.Requests, r.Result.Errors, r.Result.FirstError)
			}
		}
	}
	if r := got[cellKey{"verify", 4}]; r.Versus != "baseline" || r.Ratio <= 0 {
		t.Errorf("verify c=4: ratio %v versus %q, want a ratio to the baseline", r.Ratio, r.Versus)
	}
	if r := got[cellKey{"sign_in", 1}]; got[cellKey{"argon2", 1}].Result.RPS > 0 && r.Versus != "argon2@1" {
		t.Errorf("sign_in c=1: versus %q, want argon2@1", r.Versus)
	}
	if rep.Memory == nil || rep.Memory.IdleRSS <= 0 || rep.Memory.Peak < rep.Memory.IdleRSS {
		t.Errorf("bench JSON server_memory = %+v, want idle > 0 and peak ≥ idle", rep.Memory)
	}
	if f := rep.Flood; f == nil || f.Connections != 8 || len(f.Statuses) == 0 || f.PeakRSS <= 0 {
		t.Errorf("bench JSON flood = %+v, want 8 connections, statuses and a peak", f)
	}
}

// TestBenchAgainstURL loads a server the bench did not start, which it
// readies over HTTP.
func TestBenchAgainstURL(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes passwords")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var srvOut lockedBuffer
	db := "sqlite:" + filepath.Join(t.TempDir(), "g.db")
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--db", db, "--rate-limit=false"}, noEnv, noStdin, &srvOut, io.Discard)
	}()
	base := waitForURL(t, &srvOut)

	var stdout, stderr lockedBuffer
	err := run(ctx, []string{"bench", "--url", base, "--scenarios", "verify,refresh,sign_out,sign_in",
		"--concurrency", "1,2", "--duration", "200ms", "--warmup", "50ms"}, noEnv, noStdin, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run(bench --url %s): %v\nstderr:\n%s", base, err, stderr.String())
	}
	for _, want := range []string{"verify", "refresh", "sign_out", "sign_in", base} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("bench --url stdout lacks %q:\n%s", want, stdout.String())
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
}

func TestBenchRefusesOtherMachines(t *testing.T) {
	for _, url := range []string{"http://10.1.2.3:3000", "http://example.com", "http://0.0.0.0:3000", "http://[2001:db8::1]/"} {
		err := run(context.Background(), []string{"bench", "--url", url}, noEnv, noStdin, io.Discard, io.Discard)
		var u usageError
		if !errors.As(err, &u) || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("bench --url %s: got %v, want a usage error about loopback", url, err)
		}
	}
}

func TestBenchUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "unknownScenario", args: []string{"--scenarios", "verify,dance"}, want: `unknown "dance"`},
		{name: "zeroConcurrency", args: []string{"--concurrency", "0"}, want: "--concurrency"},
		{name: "badConcurrency", args: []string{"--concurrency", "1,x"}, want: "--concurrency"},
		{name: "zeroDuration", args: []string{"--duration", "0s"}, want: "--duration"},
		{name: "urlWithDB", args: []string{"--url", "http://127.0.0.1:3000", "--db", "sqlite:x.db"}, want: "drop --url"},
		{name: "urlWithFlood", args: []string{"--url", "http://127.0.0.1:3000", "--flood", "500"}, want: "drop --url"},
		{name: "signInWithoutUsers", args: []string{"--scenarios", "sign_in", "--seed-users", "0"}, want: "--seed-users"},
		{name: "strayArgument", args: []string{"now"}, want: "unexpected argument"},
		{name: "unknownAPI", args: []string{"--url", "http://127.0.0.1:3000", "--api", "keycloak"}, want: "--api"},
		{name: "goTrueWithoutURL", args: []string{"--api", "gotrue", "--scenarios", "me"}, want: "needs --url"},
		{name: "goTrueVerify", args: []string{"--url", "http://127.0.0.1:9999", "--api", "gotrue", "--scenarios", "me,verify"}, want: "scenario verify"},
		{name: "kratosRefresh", args: []string{"--url", "http://127.0.0.1:4433", "--api", "kratos", "--scenarios", "me,refresh"}, want: "scenario refresh"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), append([]string{"bench"}, tt.args...), noEnv, noStdin, io.Discard, io.Discard)
			var u usageError
			if !errors.As(err, &u) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("bench %v: got %v, want a usage error containing %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestBenchQuickDefaults(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		levels   []int
		duration time.Duration
		warmup   time.Duration
	}{
		{name: "full", args: nil, levels: []int{1, 16, 64}, duration: 5 * time.Second, warmup: time.Second},
		{name: "quick", args: []string{"--quick"}, levels: []int{1, 16}, duration: time.Second, warmup: 200 * time.Millisecond},
		{name: "quickExplicitWins", args: []string{"--quick", "--duration", "300ms", "--concurrency", "2"}, levels: []int{2}, duration: 300 * time.Millisecond, warmup: 200 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseBenchConfig(tt.args, io.Discard)
			if err != nil {
				t.Fatalf("parseBenchConfig(%v): %v", tt.args, err)
			}
			if !slices.Equal(c.Levels, tt.levels) || c.Duration != tt.duration || c.Warmup != tt.warmup {
				t.Errorf("parseBenchConfig(%v): levels %v, duration %v, warmup %v; want %v, %v, %v",
					tt.args, c.Levels, c.Duration, c.Warmup, tt.levels, tt.duration, tt.warmup)
			}
		})
	}
}

func TestServerEnvDropsGatehouseSettings(t *testing.T) {
	t.Setenv("GATEHOUSE_DB", "postgres://prod.example.com/auth")
	t.Setenv("GATEHOUSE_TEST_SOMETHING", "1")
	env := serverEnv()
	if slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "GATEHOUSE_DB=") }) {
		t.Error("serverEnv() passes GATEHOUSE_DB to the benchmark server")
	}
	if !slices.Contains(env, "GATEHOUSE_TEST_SOMETHING=1") {
		t.Error("serverEnv() drops GATEHOUSE_TEST_SOMETHING, which the tests need")
	}
}

// TestBenchRegisterAlone: a scenario that needs no prepared sessions runs
// on its own, across several concurrency levels, with unique emails.
func TestBenchRegisterAlone(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	t.Setenv(childEnv, "1") // inherited by the children, not read by this process
	var stdout, stderr lockedBuffer
	err := run(t.Context(), []string{"bench", "--scenarios", "register", "--concurrency", "1,2",
		"--duration", "200ms", "--warmup", "50ms"}, noEnv, noStdin, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run(bench --scenarios register): %v\nstderr:\n%s", err, stderr.String())
	}
	for _, line := range strings.Split(stdout.String(), "\n") {
		if f := strings.Fields(line); len(f) > 7 && f[0] == "register" && f[7] != "0" {
			t.Errorf("register cell with errors (duplicate emails?): %s", line)
		}
	}
}
