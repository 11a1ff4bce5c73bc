package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/loadgen"
	"github.com/gatehouse/gatehouse/internal/password"
)

// runner is one run of gatehouse bench: it readies the target, measures
// the cells in order and assembles the report.
type runner struct {
	cfg    *Config
	bin    Binary
	stdout io.Writer
	prog   *loadgen.Status
	tmp    string
	runID  string // makes this run's emails unique in a reused database
	hasher *password.Hasher
	api    *api
	srv    *servers

	dsn     string // database of the server we start
	keyFile string // its root secret, made for this run

	fx     fixtures
	cells  map[cellKey]loadgen.Result
	report Report
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
func (r *runner) run(ctx context.Context) error {
	cfg := r.cfg
	r.report = Report{
		Date: time.Now().UTC().Format(time.RFC3339), Command: cfg.Command, Machine: loadgen.DescribeMachine(),
		HashSlots: cfg.HashSlots, HashWaitS: cfg.HashWait.Seconds(), Argon2: argon2String(r.hasher.Params()),
		Concurrency: cfg.Levels, DurationS: cfg.Duration.Seconds(), WarmupS: cfg.Warmup.Seconds(),
	}
	if err := r.prepareTarget(ctx); err != nil {
		return err
	}
	if cfg.Scenarios["baseline"] {
		if err := r.srv.startBaseline(ctx); err != nil {
			return err
		}
	}
	if err := r.runCells(ctx); err != nil {
		return err
	}
	if r.srv.gatehouse != nil {
		mem, err := r.srv.gatehouse.Memory()
		if err != nil {
			return err
		}
		r.report.Memory.AfterRSS, r.report.Memory.Peak = mem.RSS, mem.Peak
	}
	if cfg.Flood > 0 {
		r.srv.stop()
		if err := r.runFlood(ctx); err != nil {
			return err
		}
	}
	r.report.Rows = rows(r.cells, cfg)
	r.prog.Clear()
	return r.report.save(r.stdout, cfg.JSONPath)
}

// needsGatehouse reports whether any selected scenario loads Gatehouse.
func (r *runner) needsGatehouse() bool {
	for sc := range r.cfg.Scenarios {
		if sc != "baseline" && sc != "argon2" {
			return true
		}
	}
	return r.cfg.Flood > 0
}

// runCells runs every selected scenario at every level, level by level,
// so a ratio compares two cells measured seconds apart, not minutes.
func (r *runner) runCells(ctx context.Context) error {
	for _, c := range r.cfg.Levels {
		for _, sc := range Scenarios {
			if !r.cfg.Scenarios[sc] {
				continue
			}
			conc := c
			if sc == "argon2" {
				conc = min(c, r.cfg.HashSlots)
				if _, done := r.cells[cellKey{sc, conc}]; done {
					continue
				}
			}
			o := loadgen.Options{Concurrency: conc, Warmup: r.cfg.Warmup, Duration: r.cfg.Duration, CPU: r.cpuOf(sc)}
			if sc == "sign_out" && r.cfg.URL != "" {
				// Over HTTP its sessions cost a hash each to make, so there
				// are few: a warm-up would spend them all unmeasured.
				o.Warmup = 0
			}
			res := r.cell(ctx, fmt.Sprintf("%s c=%d", sc, conc), o, r.doer(sc, c))
			if err := ctx.Err(); err != nil {
				return err
			}
			r.cells[cellKey{sc, conc}] = res
		}
	}
	return nil
}

// cell runs one measurement, showing progress, and prints its result.
func (r *runner) cell(ctx context.Context, label string, o loadgen.Options, do func(context.Context, int) error) loadgen.Result {
	o.Progress = func(p loadgen.Progress) { r.prog.Live("%s  %s", label, progressText(p, o.Warmup)) }
	res := loadgen.Run(ctx, o, do)
	r.prog.Line("bench: %-18s %9.1f req/s  p99 %-8s %d errors", label, res.RPS, loadgen.FormatDuration(res.P99), res.Errors)
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
func (r *runner) cpuOf(sc string) func() time.Duration {
	switch {
	case sc == "argon2":
		return func() time.Duration {
			d, _ := loadgen.ProcessCPU(os.Getpid())
			return d
		}
	case sc == "baseline":
		return r.srv.baseline.CPU
	case r.srv.gatehouse != nil:
		return r.srv.gatehouse.CPU
	}
	return nil
}
