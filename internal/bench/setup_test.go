package bench

import (
	"context"
	"errors"
	"io"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/loadgen"
)

// TestHand: the prepared sessions go to the scenarios in the order
// sessionsWanted counts them, and sign_out takes what is left.
func TestHand(t *testing.T) {
	r := &runner{cfg: &Config{
		Levels: []int{1, 2}, Warmup: 0, Duration: time.Millisecond,
		Scenarios: map[string]bool{"verify": true, "refresh": true, "sign_out": true},
	}}
	access, refresh, signOut := r.sessionsWanted()
	if access != 2 || refresh != 2 || signOut[1] != 10 || signOut[2] != 20 {
		t.Fatalf("sessionsWanted() = %d, %d, %v; want 2, 2, map[1:10 2:20]", access, refresh, signOut)
	}
	var grants []grantBody
	for i := range 2 + 2 + 10 + 5 { // five short for sign_out at c=2
		grants = append(grants, grantBody{Access: "a" + strconv.Itoa(i), Refresh: "r" + strconv.Itoa(i)})
	}
	r.hand(grants, signOut)
	if want := []string{"a0", "a1"}; !slices.Equal(r.fx.access, want) {
		t.Errorf("access tokens %v, want %v", r.fx.access, want)
	}
	if want := []string{"r2", "r3"}; !slices.Equal(r.fx.refresh, want) {
		t.Errorf("refresh tokens %v, want %v", r.fx.refresh, want)
	}
	if n1, n2 := len(r.fx.signOut[1]), len(r.fx.signOut[2]); n1 != 10 || n2 != 5 || r.fx.signOut[1][0] != "a4" {
		t.Errorf("sign-out tokens: %d at c=1 (first %q), %d at c=2; want 10 (first a4) and 5", n1, r.fx.signOut[1][0], n2)
	}
	if r.fx.next[1] == nil || r.fx.next[2] == nil {
		t.Error("hand left a level without its sign-out counter")
	}

	// Over HTTP each level gets what was made for it, not the first
	// level all of them.
	r.fx = fixtures{}
	r.hand(grants[:2+2+3+4], map[int]int{1: 3, 2: 4})
	if n1, n2 := len(r.fx.signOut[1]), len(r.fx.signOut[2]); n1 != 3 || n2 != 4 || r.fx.signOut[2][0] != "a7" {
		t.Errorf("sign-out tokens made per level: %d at c=1, %d at c=2 (first %q); want 3 and 4 (first a7)", n1, n2, r.fx.signOut[2][0])
	}
}

// TestParallel: every index runs once, and the first error stops the rest
// and is returned.
func TestParallel(t *testing.T) {
	prog := loadgen.NewStatus(io.Discard)
	var ran atomic.Int64
	runs := make([]atomic.Int32, 100)
	err := parallel(context.Background(), prog, len(runs), 4, "", func(ctx context.Context, i int) error {
		ran.Add(1)
		runs[i].Add(1)
		return nil
	})
	if err != nil || ran.Load() != 100 {
		t.Errorf("parallel(100 tasks): err %v, %d runs; want nil and 100", err, ran.Load())
	}
	for i := range runs {
		if n := runs[i].Load(); n != 1 {
			t.Errorf("parallel(100 tasks): index %d ran %d times, want once", i, n)
		}
	}

	boom := errors.New("boom")
	ran.Store(0)
	err = parallel(context.Background(), prog, 1000, 1, "", func(ctx context.Context, i int) error {
		ran.Add(1)
		if i == 3 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || ran.Load() != 4 {
		t.Errorf("parallel with a failing task: err %v after %d runs; want boom after 4", err, ran.Load())
	}
}
