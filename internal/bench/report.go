package bench

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/loadgen"
	"github.com/gatehouse/gatehouse/internal/password"
)

// rows turns the measured cells into table rows with their ratios.
func rows(cells map[cellKey]loadgen.Result, cfg *Config) []loadgen.Row {
	var rows []loadgen.Row
	for _, sc := range Scenarios {
		var levels []int
		for k := range cells {
			if k.scenario == sc {
				levels = append(levels, k.conc)
			}
		}
		slices.Sort(levels)
		for _, c := range levels {
			r := loadgen.Row{Scenario: sc, Concurrency: c, Result: cells[cellKey{sc, c}]}
			ref := cellKey{"baseline", c}
			switch sc {
			case "register", "sign_in":
				ref = cellKey{"argon2", min(c, cfg.HashSlots)}
			case "verify", "me":
			case "forgot_unknown":
				// Side by side: the same cost for unknown and known
				// addresses is the point (no account enumeration).
				ref = cellKey{"forgot_known", c}
			default:
				ref = cellKey{}
			}
			if want, ok := cells[ref]; ok && want.RPS > 0 {
				r.Versus = ref.scenario
				r.Ratio = r.Result.RPS / want.RPS
				if ref.scenario == "argon2" {
					r.Versus = fmt.Sprintf("argon2@%d", ref.conc)
				} else if want.P99 > 0 {
					r.P99Ratio = float64(r.Result.P99) / float64(want.P99)
				}
			}
			if sc == "sign_out" && r.Result.Elapsed < cfg.Duration {
				r.Note = fmt.Sprintf("sessions ran out after %v", r.Result.Elapsed.Round(time.Millisecond))
			}
			rows = append(rows, r)
		}
	}
	return rows
}

// Report is the whole result: the table, and everything needed to
// reproduce and judge it. --json writes it as is.
type Report struct {
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

// save prints the report to w and, with a jsonPath, writes it there as JSON.
func (r *Report) save(w io.Writer, jsonPath string) error {
	if err := r.write(w); err != nil {
		return err
	}
	if jsonPath == "" {
		return nil
	}
	out, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(jsonPath, append(out, '\n'), 0o644)
}

// write prints the report as text: a header, the table, memory, and a
// legend saying exactly what each number means.
func (r *Report) write(w io.Writer) error {
	var b strings.Builder
	r.writeHeader(&b)
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
		f.write(&b)
	}
	b.WriteString(benchLegend)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeHeader prints what was run where: enough to reproduce and judge it.
func (r *Report) writeHeader(b *strings.Builder) {
	fmt.Fprintf(b, "gatehouse bench, %s\n", r.Date)
	fmt.Fprintf(b, "command:  %s\n", r.Command)
	fmt.Fprintf(b, "machine:  %s\n", r.Machine)
	fmt.Fprintf(b, "server:   %s; %s; hash slots %d, hash wait %gs; %s\n",
		r.Target, cmp.Or(r.Database, "its own database"), r.HashSlots, r.HashWaitS, r.Argon2)
	fmt.Fprintf(b, "cells:    concurrency %s; %v warmup + %v measured each\n",
		joinInts(r.Concurrency), seconds(r.WarmupS), seconds(r.DurationS))
	if s := r.Seed; s != nil {
		how := "one commit each"
		if s.BulkSessions {
			how = "bulk"
		}
		fmt.Fprintf(b, "seeded:   %d users (%d new, %d already there, %d conflicts) in %.1fs %s; %d sessions in %.1fs %s, %s\n",
			s.Users, s.Inserted, s.Existing, s.Conflicts, s.UsersS, perSecond(s.Inserted, seconds(s.UsersS)),
			s.Sessions, s.SessionsS, perSecond(s.Sessions, seconds(s.SessionsS)), how)
	}
	for _, s := range r.Setup {
		fmt.Fprintf(b, "setup:    %s\n", s)
	}
}

// write prints the flood's statuses, latencies and memory.
func (f *floodReport) write(b *strings.Builder) {
	var st []string
	for _, k := range slices.Sorted(maps.Keys(f.Statuses)) {
		st = append(st, fmt.Sprintf("%s ×%d", k, f.Statuses[k]))
	}
	fmt.Fprintf(b, "flood: %d concurrent sign-ins for %gs on a fresh server: %s\n", f.Connections, f.DurationS, strings.Join(st, ", "))
	fmt.Fprintf(b, "       200: %.1f/s, p99 %s; 503: p50 %.1fms, p99 %.1fms, max %.1fms\n",
		f.OK.RPS, loadgen.FormatDuration(f.OK.P99), f.Unavailable.P50ms, f.Unavailable.P99ms, f.Unavailable.MaxMS)
	fmt.Fprintf(b, "       server RSS idle %s, peak %s; bound %s (hash slots × argon2 memory + 100 MiB)\n",
		mib(f.IdleRSS), mib(f.PeakRSS), mib(f.BoundRSS))
}

// seconds is a report's float seconds as a duration again.
func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func perSecond(n int, d time.Duration) string {
	return fmt.Sprintf("(%.0f rows/s)", float64(n)/max(d, time.Millisecond).Seconds())
}

func durationMS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

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
  forgot_known, forgot_unknown: password/forgot for a seeded user's address
  and for addresses no account has; forgot_unknown's ratio and p99× are to
  forgot_known at the same conc, and should be near 1: both only enqueue.
  refresh: each client chains its own session (each answer's refresh token is
  its next request's). sign_out: each request ends a fresh session, made
  before the server started by signing in, in this process, users with cheap
  hashes (so not in the server's session cache: each sign-out reads its
  session once); a cell that runs out of them ends early, and its req/s is
  over the shorter time.
`
