package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Row is one line of a report: a scenario at one concurrency, with an
// optional comparison against a reference measured in the same run.
type Row struct {
	Scenario    string
	Concurrency int
	Result      Result
	// Ratio is Result.RPS over the reference's RPS and P99Ratio is
	// Result.P99 over the reference's P99; zero when there is no
	// reference. Versus names the reference.
	Ratio    float64
	P99Ratio float64
	Versus   string
	// Note is a short remark printed after the row (for example why a cell
	// ended early).
	Note string
}

// WriteTable writes rows as an aligned text table. The cpu/req column is
// Result.CPUPerCall, "-" where no CPU was metered.
func WriteTable(w io.Writer, rows []Row) error {
	const format = "%-14s %5s %10s %9s %9s %9s %9s %7s %9s %6s  %s\n"
	var b strings.Builder
	fmt.Fprintf(&b, format, "scenario", "conc", "req/s", "p50", "p90", "p99", "max", "errors", "cpu/req", "ratio", "vs")
	for _, r := range rows {
		ratio, versus := "", r.Versus
		if r.Ratio > 0 {
			ratio = strconv.FormatFloat(r.Ratio, 'f', 2, 64)
		}
		if r.P99Ratio > 0 {
			versus += fmt.Sprintf(" (p99 %.2f×)", r.P99Ratio)
		}
		if r.Note != "" {
			versus = strings.TrimSpace(versus + "  " + r.Note)
		}
		res := r.Result
		fmt.Fprintf(&b, format, r.Scenario, strconv.Itoa(r.Concurrency), formatRate(res.RPS),
			FormatDuration(res.P50), FormatDuration(res.P90), FormatDuration(res.P99), FormatDuration(res.Max),
			strconv.FormatInt(res.Errors, 10), FormatDuration(res.CPUPerCall()), ratio, strings.TrimSpace(versus))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func formatRate(rps float64) string {
	if rps >= 100 {
		return strconv.FormatFloat(rps, 'f', 0, 64)
	}
	return strconv.FormatFloat(rps, 'f', 1, 64)
}

// FormatDuration prints d with three significant digits or so, in the unit
// that suits it: 85µs, 1.23ms, 812ms, 1.02s. Zero prints as "-".
func FormatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Millisecond:
		return strconv.FormatFloat(float64(d)/float64(time.Microsecond), 'f', 0, 64) + "µs"
	case d < 10*time.Millisecond:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + "ms"
	case d < 100*time.Millisecond:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + "ms"
	case d < time.Second:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 0, 64) + "ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + "s"
}

// resultJSON is Result on the wire: durations as milliseconds, which every
// plotting tool reads without knowing Go's nanosecond convention.
type resultJSON struct {
	Requests   int64   `json:"requests"`
	Errors     int64   `json:"errors"`
	ElapsedS   float64 `json:"elapsed_s"`
	RPS        float64 `json:"rps"`
	P50ms      float64 `json:"p50_ms"`
	P90ms      float64 `json:"p90_ms"`
	P99ms      float64 `json:"p99_ms"`
	MaxMS      float64 `json:"max_ms"`
	FirstError string  `json:"first_error,omitempty"`
	CPUms      float64 `json:"cpu_ms,omitempty"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func fromMS(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

// MarshalJSON writes durations in milliseconds and the window in seconds.
func (r Result) MarshalJSON() ([]byte, error) {
	return json.Marshal(resultJSON{
		Requests: r.Requests, Errors: r.Errors, ElapsedS: r.Elapsed.Seconds(), RPS: r.RPS,
		P50ms: ms(r.P50), P90ms: ms(r.P90), P99ms: ms(r.P99), MaxMS: ms(r.Max),
		FirstError: r.FirstError, CPUms: ms(r.CPU),
	})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Result) UnmarshalJSON(b []byte) error {
	var j resultJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*r = Result{
		Requests: j.Requests, Errors: j.Errors, Elapsed: time.Duration(j.ElapsedS * float64(time.Second)), RPS: j.RPS,
		P50: fromMS(j.P50ms), P90: fromMS(j.P90ms), P99: fromMS(j.P99ms), Max: fromMS(j.MaxMS),
		FirstError: j.FirstError, CPU: fromMS(j.CPUms),
	}
	return nil
}

// rowJSON is Row on the wire.
type rowJSON struct {
	Scenario    string  `json:"scenario"`
	Concurrency int     `json:"concurrency"`
	Result      Result  `json:"result"`
	Ratio       float64 `json:"ratio,omitempty"`
	P99Ratio    float64 `json:"p99_ratio,omitempty"`
	Versus      string  `json:"versus,omitempty"`
	Note        string  `json:"note,omitempty"`
}

// MarshalJSON writes the row with snake_case names.
func (r Row) MarshalJSON() ([]byte, error) { return json.Marshal(rowJSON(r)) }

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Row) UnmarshalJSON(b []byte) error {
	var j rowJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*r = Row(j)
	return nil
}
