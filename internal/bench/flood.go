package bench

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/loadgen"
)

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
func (r *runner) runFlood(ctx context.Context) error {
	idle, err := r.startServerIdle(ctx)
	if err != nil {
		return err
	}
	rep := &floodReport{Connections: r.cfg.Flood, DurationS: r.cfg.Duration.Seconds(), IdleRSS: idle.RSS, Statuses: map[string]int{}}
	rep.BoundRSS = int64(r.cfg.HashSlots)*int64(r.hasher.Params().Memory)<<10 + 100<<20

	var mu sync.Mutex
	unavailable := loadgen.NewHistogram()
	count := func(k string) { mu.Lock(); rep.Statuses[k]++; mu.Unlock() }
	peak := samplePeak(r.srv.gatehouse)
	o := loadgen.Options{Concurrency: r.cfg.Flood, Duration: r.cfg.Duration}
	rep.OK = r.cell(ctx, "flood sign_in", o, func(ctx context.Context, w int) error {
		t0 := time.Now()
		err := r.api.signIn(ctx, r.fx.email(rand.IntN(r.fx.users)+1), nil)
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
	rep.PeakRSS = peak()
	if err := ctx.Err(); err != nil {
		return err
	}
	rep.Unavailable.P50ms = durationMS(unavailable.Quantile(0.5))
	rep.Unavailable.P99ms = durationMS(unavailable.Quantile(0.99))
	rep.Unavailable.MaxMS = durationMS(unavailable.Max())
	r.report.Flood = rep
	r.srv.stop()
	return nil
}

// samplePeak reads s's memory every 20ms until the function it returns is
// called, which returns the highest VmRSS or VmHWM read.
func samplePeak(s *loadgen.Server) (stop func() int64) {
	var peak atomic.Int64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if m, err := s.Memory(); err == nil {
				peak.Store(max(peak.Load(), m.RSS, m.Peak))
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() int64 {
		close(done)
		<-sampled
		return peak.Load()
	}
}
