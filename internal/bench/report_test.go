package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/loadgen"
)

// TestRows: each row is compared with the reference the legend names, and
// a sign_out cell that ran out of sessions says so.
func TestRows(t *testing.T) {
	cfg := &Config{HashSlots: 2, Duration: time.Second}
	res := func(rps float64, p99 time.Duration) loadgen.Result {
		return loadgen.Result{RPS: rps, P99: p99, Elapsed: time.Second}
	}
	cells := map[cellKey]loadgen.Result{
		{"baseline", 4}:       res(1000, 2*time.Millisecond),
		{"verify", 4}:         res(500, 4*time.Millisecond),
		{"argon2", 2}:         res(20, 0),
		{"sign_in", 4}:        res(10, 300*time.Millisecond),
		{"forgot_known", 4}:   res(400, time.Millisecond),
		{"forgot_unknown", 4}: res(200, 3*time.Millisecond),
		{"refresh", 4}:        res(300, time.Millisecond),
		{"sign_out", 4}:       {RPS: 100, Elapsed: 250 * time.Millisecond},
	}
	tests := []struct {
		scenario string
		versus   string
		ratio    float64
		p99Ratio float64
		note     string
	}{
		{scenario: "baseline"},
		{scenario: "verify", versus: "baseline", ratio: 0.5, p99Ratio: 2},
		{scenario: "argon2"},
		{scenario: "sign_in", versus: "argon2@2", ratio: 0.5},
		{scenario: "forgot_known"},
		{scenario: "forgot_unknown", versus: "forgot_known", ratio: 0.5, p99Ratio: 3},
		{scenario: "refresh"},
		{scenario: "sign_out", note: "sessions ran out after 250ms"},
	}
	got := rows(cells, cfg)
	if len(got) != len(tests) {
		t.Fatalf("rows: got %d rows, want %d: %+v", len(got), len(tests), got)
	}
	for i, tt := range tests {
		r := got[i]
		if r.Scenario != tt.scenario || r.Versus != tt.versus || r.Ratio != tt.ratio || r.P99Ratio != tt.p99Ratio || r.Note != tt.note {
			t.Errorf("rows[%d] = %s versus %q ratio %v p99× %v note %q; want %s versus %q ratio %v p99× %v note %q",
				i, r.Scenario, r.Versus, r.Ratio, r.P99Ratio, r.Note, tt.scenario, tt.versus, tt.ratio, tt.p99Ratio, tt.note)
		}
	}
}

// TestReportWrite: the text report carries what a reader needs to judge
// and reproduce the run.
func TestReportWrite(t *testing.T) {
	r := &Report{
		Date: "2026-12-02T00:00:00Z", Command: "gatehouse bench --quick", Target: "child process: gatehouse serve",
		HashSlots: 2, HashWaitS: 1, Argon2: "argon2id m=65536 t=3 p=1", Concurrency: []int{1, 16}, DurationS: 1, WarmupS: 0.2,
		Seed:   &seedReport{Users: 20, Inserted: 20, Sessions: 20, BulkSessions: true},
		Rows:   []loadgen.Row{{Scenario: "verify", Concurrency: 1, Result: loadgen.Result{RPS: 10, FirstError: "boom"}}},
		Memory: &memoryReport{IdleRSS: 10 << 20, AfterRSS: 20 << 20, Peak: 30 << 20},
		Flood:  &floodReport{Connections: 8, DurationS: 1, Statuses: map[string]int{"200": 3, "503": 5}},
	}
	var out strings.Builder
	if err := r.write(&out); err != nil {
		t.Fatalf("write: %v", err)
	}
	for _, want := range []string{
		"command:  gatehouse bench --quick\n",
		"hash slots 2, hash wait 1s; argon2id m=65536 t=3 p=1",
		"cells:    concurrency 1,16; 200ms warmup + 1s measured each\n",
		"seeded:   20 users (20 new, 0 already there, 0 conflicts)",
		"first error of verify c=1: boom\n",
		"server memory: idle 10.0 MiB, after load 20.0 MiB, peak 30.0 MiB",
		"flood: 8 concurrent sign-ins for 1s on a fresh server: 200 ×3, 503 ×5\n",
		"How to read this:",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
