package loadgen

import (
	"strings"
	"testing"
	"time"
)

func TestStatusOffTerminal(t *testing.T) {
	var b strings.Builder
	s := NewStatus(&b)
	s.Live("seeding 1/3")
	s.Line("done step")
	s.every = 0 // as if a long time had passed since each line
	s.Live("seeding 2/3")
	s.Clear()
	if got, want := b.String(), "done step\nseeding 2/3\n"; got != want {
		t.Errorf("Status output off a terminal = %q, want %q (no live line until quiet for a while, no escapes)", got, want)
	}
	if s.last.IsZero() || time.Since(s.last) > time.Second {
		t.Errorf("Status.last = %v, want just now", s.last)
	}
}
