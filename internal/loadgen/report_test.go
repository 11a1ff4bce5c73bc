package loadgen

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRowJSONRoundTrip(t *testing.T) {
	in := []Row{{
		Scenario: "verify", Concurrency: 64,
		Result: Result{
			Requests: 120_000, Errors: 3, Elapsed: 5 * time.Second, RPS: 24_000,
			P50: 1500 * time.Microsecond, P90: 3 * time.Millisecond, P99: 7250 * time.Microsecond, Max: 41 * time.Millisecond,
			FirstError: "GET /v1/auth/verify: status 401", CPU: 2500 * time.Millisecond,
		},
		Ratio: 0.83, P99Ratio: 1.2, Versus: "baseline",
	}, {Scenario: "baseline", Concurrency: 1, Result: Result{Requests: 10, Elapsed: time.Second, RPS: 10, P50: time.Millisecond}}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"scenario":"verify"`, `"p99_ms":7.25`, `"elapsed_s":5`, `"p99_ratio":1.2`, `"cpu_ms":2500`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("json.Marshal(rows) = %s, want it to contain %s", b, key)
		}
	}
	var out []Row
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("json.Unmarshal: %v", err)
	}
	if diff := cmp.Diff(in, out); diff != "" {
		t.Errorf("rows after a JSON round trip (-want +got):\n%s", diff)
	}
}

func TestWriteTable(t *testing.T) {
	var b strings.Builder
	err := WriteTable(&b, []Row{
		{Scenario: "baseline", Concurrency: 16, Result: Result{RPS: 31234.5, P50: 420 * time.Microsecond, P90: 800 * time.Microsecond, P99: 2 * time.Millisecond, Max: 12 * time.Millisecond}},
		{Scenario: "verify", Concurrency: 16, Result: Result{RPS: 25000, P50: 550 * time.Microsecond, Errors: 2}, Ratio: 0.8, P99Ratio: 1.25, Versus: "baseline"},
		{Scenario: "sign_in", Concurrency: 1, Result: Result{RPS: 35.25, P50: 28 * time.Millisecond}, Ratio: 0.97, Versus: "argon2@1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("WriteTable wrote %d lines, want 4:\n%s", len(lines), b.String())
	}
	for i, want := range []string{"31234", "0.80  baseline (p99 1.25×)", "35.2"} {
		if !strings.Contains(lines[i+1], want) {
			t.Errorf("WriteTable line %d = %q, want it to contain %q", i+1, lines[i+1], want)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "-"},
		{85 * time.Microsecond, "85µs"},
		{1234 * time.Microsecond, "1.23ms"},
		{45600 * time.Microsecond, "45.6ms"},
		{812 * time.Millisecond, "812ms"},
		{1020 * time.Millisecond, "1.02s"},
	}
	for _, tt := range tests {
		if got := FormatDuration(tt.in); got != tt.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
