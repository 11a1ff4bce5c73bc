// Package loadgen drives closed-loop load and summarizes it: a fixed number
// of workers each call a function back to back for a fixed time, and the
// latencies go into a constant-memory histogram. It also has what a
// load benchmark around it needs: a table and JSON for the results, an
// HTTP client that can only reach loopback addresses, a child server
// process whose memory can be read, and a description of the machine.
package loadgen

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// ErrStop, returned by a worker's call, means the worker has no more work
// (for example, its supply of sessions to sign out ran out). The call is not
// counted and the worker stops; Run ends early once every worker has.
var ErrStop = errors.New("loadgen: worker has no more work")

// Options configure Run.
type Options struct {
	// Concurrency is the number of workers, each with at most one call in
	// flight (closed loop). Default 1.
	Concurrency int
	// Warmup is run before measuring and not recorded: connections are
	// opened, caches and the scheduler settle, queues fill.
	Warmup time.Duration
	// Duration is the measured window.
	Duration time.Duration
	// Grace bounds how long Run waits, after the window, for calls still in
	// flight: then their context is cancelled. Default 5s.
	Grace time.Duration
	// Progress, if set, is called about every ProgressEvery (default 250ms)
	// from one goroutine while Run runs.
	Progress      func(Progress)
	ProgressEvery time.Duration
	// CPU, if set, reads a CPU-time counter (such as the server process's,
	// see Server.CPU) at the start and the end of the window; the
	// difference is Result.CPU. Divided by the calls it served, it is the
	// cost of one call, which other load on the machine barely disturbs.
	CPU func() time.Duration
}

// Progress is a snapshot of a running Run.
type Progress struct {
	Warmup   bool          // still warming up
	Elapsed  time.Duration // since Run started
	Total    time.Duration // Warmup + Duration
	Requests int64         // successful calls recorded so far
	Errors   int64
}

// Result summarizes the calls that completed inside the measured window.
// Requests counts successes only; failed calls are counted in Errors and
// kept out of the latency percentiles, so that fast failures (a 503) can
// neither flatter nor hide the latency of real work.
type Result struct {
	Requests int64
	Errors   int64
	// Elapsed is the measured window: Duration, or less if every worker
	// stopped early.
	Elapsed time.Duration
	RPS     float64 // Requests / Elapsed
	P50     time.Duration
	P90     time.Duration
	P99     time.Duration
	Max     time.Duration
	// FirstError is the text of the first failed call, if any.
	FirstError string
	// CPU is the CPU time Options.CPU counted during the window.
	CPU time.Duration
}

// CPUPerCall is the CPU time per call answered (successes and errors)
// in the window, or 0 if unknown.
func (r Result) CPUPerCall() time.Duration {
	if n := r.Requests + r.Errors; n > 0 {
		return r.CPU / time.Duration(n)
	}
	return 0
}

// Run calls do from Concurrency workers, each in a loop, for Warmup +
// Duration, and summarizes the calls that completed inside the Duration
// window. Counting completions rather than calls started and finished in
// the window keeps throughput right when single calls are long compared
// with the window. A do that returns ErrStop ends its worker. Run returns
// early, with what it measured, when ctx is done. do must honour its
// context, which is cancelled Grace after the window ends.
func Run(ctx context.Context, o Options, do func(ctx context.Context, worker int) error) Result {
	o = o.withDefaults()
	callCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		hist      = NewHistogram()
		errs      atomic.Int64
		firstErr  sync.Once
		firstText string
		lastExit  atomic.Int64 // when the last worker stopped, ns after from
	)
	start := time.Now()
	from := start.Add(o.Warmup)
	to := from.Add(o.Duration)
	// The hard bound: whatever do does, its context ends Grace after the
	// window, so Run returns in bounded time.
	hard := time.AfterFunc(time.Until(to)+o.Grace, cancel)
	defer hard.Stop()

	var wg sync.WaitGroup
	for w := range o.Concurrency {
		wg.Go(func() {
			defer func() {
				at := int64(time.Since(from))
				for old := lastExit.Load(); at > old && !lastExit.CompareAndSwap(old, at); old = lastExit.Load() {
				}
			}()
			for {
				t0 := time.Now()
				if !t0.Before(to) || ctx.Err() != nil {
					return
				}
				err := do(callCtx, w)
				t1 := time.Now()
				if errors.Is(err, ErrStop) {
					return
				}
				if t1.Before(from) || t1.After(to) {
					continue
				}
				if err != nil {
					errs.Add(1)
					firstErr.Do(func() { firstText = err.Error() })
					continue
				}
				hist.Record(t1.Sub(t0))
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	cpu := o.meterCPU(from, to, done)
	o.report(done, start, hist, &errs)

	elapsed := o.Duration
	if exit := time.Duration(lastExit.Load()); exit < elapsed {
		elapsed = max(exit, 0)
	}
	r := Result{
		Requests:   int64(hist.Count()),
		Errors:     errs.Load(),
		Elapsed:    elapsed,
		P50:        hist.Quantile(0.50),
		P90:        hist.Quantile(0.90),
		P99:        hist.Quantile(0.99),
		Max:        hist.Max(),
		FirstError: firstText,
		CPU:        <-cpu,
	}
	if elapsed > 0 {
		r.RPS = float64(r.Requests) / elapsed.Seconds()
	}
	return r
}

// meterCPU reads o.CPU when the window starts and when it ends (or when
// done is closed, if sooner), and sends the difference.
func (o Options) meterCPU(from, to time.Time, done <-chan struct{}) <-chan time.Duration {
	out := make(chan time.Duration, 1)
	if o.CPU == nil {
		out <- 0
		return out
	}
	wait := func(t time.Time) {
		timer := time.NewTimer(time.Until(t))
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-done:
		}
	}
	go func() {
		wait(from)
		c0 := o.CPU()
		wait(to)
		out <- max(o.CPU()-c0, 0)
	}()
	return out
}

// report calls o.Progress until done is closed.
func (o Options) report(done <-chan struct{}, start time.Time, hist *Histogram, errs *atomic.Int64) {
	if o.Progress == nil {
		<-done
		return
	}
	tick := time.NewTicker(o.ProgressEvery)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
			el := time.Since(start)
			o.Progress(Progress{
				Warmup:   el < o.Warmup,
				Elapsed:  el,
				Total:    o.Warmup + o.Duration,
				Requests: int64(hist.Count()),
				Errors:   errs.Load(),
			})
		}
	}
}

func (o Options) withDefaults() Options {
	if o.Concurrency < 1 {
		o.Concurrency = 1
	}
	if o.Grace <= 0 {
		o.Grace = 5 * time.Second
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 250 * time.Millisecond
	}
	o.Warmup = max(o.Warmup, 0)
	o.Duration = max(o.Duration, 0)
	return o
}
