package auth_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authtest"
)

func TestMemoryCounterContract(t *testing.T) {
	authtest.RunCounterTests(t, func(t *testing.T) auth.Counter {
		return auth.NewMemoryCounter(nil, 1000)
	})
}

// TestMemoryCounter_FullKeepsSecurityState is issue 8's: at its bound the
// counter used to clear every count, an attacker's reset button for every
// back-off. Now a full class refuses new keys (429) and keeps what it
// holds; expired entries make room.
func TestMemoryCounter_FullKeepsSecurityState(t *testing.T) {
	clock := authtest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	c := auth.NewMemoryCounter(clock.Now, 10)
	ctx := t.Context()
	admit := func(a auth.Admission) auth.Decision {
		t.Helper()
		d, err := c.Admit(ctx, a)
		if err != nil {
			t.Fatalf("Admit(%+v) = %v", a, err)
		}
		return d
	}
	victim := auth.Admission{Backoffs: []auth.Backoff{{Key: "victim", Free: 0, MaxDelay: time.Hour, Memory: 24 * time.Hour}}}
	admit(victim) // one failure: blocked 1 s
	refused := 0
	for i := range 1000 {
		key := fmt.Sprint("spray", i)
		rate := auth.Admission{Rates: []auth.Rate{{Key: key, Limit: 5, Window: time.Minute}}}
		backoff := auth.Admission{Backoffs: []auth.Backoff{{Key: key, Free: 5, MaxDelay: time.Hour, Memory: time.Minute}}}
		for _, a := range []auth.Admission{rate, backoff} {
			if d := admit(a); !d.Admitted {
				refused++
			}
		}
	}
	if want := 2 * (1000 - 10); refused < want-1 {
		t.Errorf("1000 new keys per class on a bound of 10: %d refused, want about %d", refused, want)
	}
	if d := admit(victim); d.Admitted {
		t.Errorf("Admit(victim) after the spray admitted, want still blocked: a full counter must not forget")
	}
	owner := auth.Admission{Backoffs: []auth.Backoff{{Key: "device", Free: 5, MaxDelay: time.Hour, Memory: time.Hour, Device: true}}}
	if d := admit(owner); !d.Admitted {
		t.Errorf("Admit(known device) after the spray refused, want admitted: unknown devices cannot fill its class")
	}
	clock.Advance(2 * time.Minute) // the spray expires, the victim's failure is remembered
	if d := admit(auth.Admission{Rates: []auth.Rate{{Key: "new", Limit: 5, Window: time.Minute}}}); !d.Admitted {
		t.Errorf("Admit(new key) after the spray expired refused, want the sweep to make room")
	}
	admit(victim) // the second failure
	if d := admit(victim); d.Admitted || d.RetryAfter != 2*time.Second {
		t.Errorf("Admit(victim) after 2 failures = %+v, want refused for 2s: the count survived", d)
	}
}

// TestMemoryCounter_HeapAtBound measures the heap of a counter filled to
// DefaultMemoryCounterKeys in every class (a tenth for slots) with sign-in-shaped keys, the
// number docs/security.md quotes (go test ./internal/auth -run
// HeapAtBound -v), and holds it under the budget the serve command's
// memory limit leaves beside hashing.
func TestMemoryCounter_HeapAtBound(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a counter to its bound")
	}
	const budget = 40 << 20
	before := heap()
	c := auth.NewMemoryCounter(nil, auth.DefaultMemoryCounterKeys)
	ctx := t.Context()
	for i := range auth.DefaultMemoryCounterKeys {
		// Keys as the limiter makes them: a prefix and 32 hex digits.
		k := fmt.Sprintf("%032x", i)
		a := auth.Admission{
			Rates: []auth.Rate{{Key: "ip:sign_in:" + k, Limit: 60, Window: time.Minute}},
			Backoffs: []auth.Backoff{
				{Key: "backoff:pair:" + k, Free: 5, MaxDelay: time.Hour, Memory: time.Hour},
				{Key: "backoff:device:" + k, Free: 5, MaxDelay: time.Hour, Memory: time.Hour, Device: true},
			},
		}
		if i < auth.DefaultMemoryCounterKeys/10 {
			a.Slots, a.Holder, a.SlotTTL = []auth.Slot{{Key: "slot:pair:" + k, Max: 2}}, fmt.Sprintf("%026d", i), time.Hour
		}
		if d, err := c.Admit(ctx, a); err != nil || !d.Admitted {
			t.Fatalf("Admit #%d = %+v, %v; want admitted below the bound", i, d, err)
		}
	}
	used := heap() - before
	runtime.KeepAlive(c)
	// Collect the counter now, not in the middle of a timing test (the
	// pacing test of failed sign-ins runs after this one).
	t.Cleanup(runtime.GC)
	t.Logf("MemoryCounter at %d keys per class: %.1f MiB of heap", auth.DefaultMemoryCounterKeys, float64(used)/(1<<20))
	if used > budget {
		t.Errorf("MemoryCounter at its bound holds %d MiB, want at most %d MiB", used>>20, budget>>20)
	}
}

func heap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
