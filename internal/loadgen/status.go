package loadgen

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Status shows a benchmark's progress. On a terminal it keeps one live
// line, rewritten in place; anywhere else (a log file, CI) it prints the
// permanent lines and, so a long phase still shows it is moving, a live
// line whenever nothing was printed for a while.
type Status struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	live  bool      // a live line is showing
	last  time.Time // when the last line was printed (not a terminal)
	every time.Duration
}

// quietFor is how long Status stays silent off a terminal before it
// prints a live line.
const quietFor = 10 * time.Second

// NewStatus writes to w, which is treated as a terminal if it is an
// *os.File on a character device.
func NewStatus(w io.Writer) *Status {
	s := &Status{w: w, last: time.Now(), every: quietFor}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			s.tty = true
		}
	}
	return s
}

// Live replaces the live line on a terminal; elsewhere it prints it as a
// line if nothing was printed for a while.
func (s *Status) Live(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.tty {
		if time.Since(s.last) >= s.every {
			fmt.Fprintf(s.w, format+"\n", args...)
			s.last = time.Now()
		}
		return
	}
	fmt.Fprintf(s.w, "\r\033[K"+format, args...)
	s.live = true
}

// Line prints a permanent line, replacing the live one.
func (s *Status) Line(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clearLocked()
	fmt.Fprintf(s.w, format+"\n", args...)
	s.last = time.Now()
}

// Clear removes the live line.
func (s *Status) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clearLocked()
}

func (s *Status) clearLocked() {
	if s.live {
		io.WriteString(s.w, "\r\033[K")
		s.live = false
	}
}
