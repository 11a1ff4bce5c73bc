package postgres

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// Expired rows, counts and slots of a node that died, are garbage and get
// swept; live ones survive the sweep.
func TestCounter_DeleteExpired(t *testing.T) {
	t.Parallel()
	st, _ := newTestStore(t)
	c := st.Counter()
	ctx := t.Context()
	gone := auth.Admission{
		Rates:  []auth.Rate{{Key: "gone", Limit: 1, Window: time.Millisecond}},
		Slots:  []auth.Slot{{Key: "dead", Max: 1}},
		Holder: "h", SlotTTL: time.Millisecond,
	}
	live := auth.Admission{Rates: []auth.Rate{{Key: "live", Limit: 1, Window: time.Hour}}}
	for _, a := range []auth.Admission{gone, live} {
		if d, err := c.Admit(ctx, a); err != nil || !d.Admitted {
			t.Fatalf("Admit(%+v) = %+v, %v; want admitted", a, d, err)
		}
	}
	time.Sleep(10 * time.Millisecond)
	if deleted, err := c.DeleteExpired(ctx); err != nil || deleted != 1 {
		t.Errorf("DeleteExpired() = %d, %v; want 1 (a row of each table), nil", deleted, err)
	}
	var rows int
	if err := st.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM counters) + (SELECT count(*) FROM counter_slots)`).Scan(&rows); err != nil || rows != 1 {
		t.Errorf("rows left after DeleteExpired = %d, %v; want 1: the live window", rows, err)
	}
	if d, err := c.Admit(ctx, live); err != nil || d.Admitted {
		t.Errorf("Admit(live) #2 after the sweep = %+v, %v; want refused: a live window survives", d, err)
	}
}

// BenchmarkCounterAdmit measures one sign-in's admission and settlement:
// two statements.
func BenchmarkCounterAdmit(b *testing.B) {
	st, _ := newTestStore(b)
	c := st.Counter()
	a := auth.Admission{
		Rates:    []auth.Rate{{Key: "ip", Limit: 1 << 40, Window: time.Minute}},
		Backoffs: []auth.Backoff{{Key: "fail", Free: 1 << 40, MaxDelay: time.Hour, Memory: time.Hour}},
		Slots:    []auth.Slot{{Key: "slot", Max: 4}},
		Holder:   "h", SlotTTL: time.Minute,
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Admit(b.Context(), a); err != nil {
			b.Fatal(err)
		}
		if err := c.Settle(b.Context(), auth.Settlement{Clear: []string{"fail"}, Release: []string{"slot"}, Holder: "h"}); err != nil {
			b.Fatal(err)
		}
	}
}
