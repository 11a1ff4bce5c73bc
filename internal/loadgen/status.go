package loadgen

import (
	"fmt"
	"io"
	"os"
	"sync"
)

// Status shows a benchmark's progress. On a terminal it keeps one live
// line, rewritten in place; anywhere else (a log file, CI) it prints only
// the permanent lines, so the output stays readable.
type Status struct {
	mu   sync.Mutex
	w    io.Writer
	tty  bool
	live bool // a live line is showing
}

// NewStatus writes to w, which is treated as a terminal if it is an
// *os.File on a character device.
func NewStatus(w io.Writer) *Status {
	s := &Status{w: w}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			s.tty = true
		}
	}
	return s
}

// Live replaces the live line (a terminal only).
func (s *Status) Live(format string, args ...any) {
	if !s.tty {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.w, "\r\033[K"+format, args...)
	s.live = true
}

// Line prints a permanent line, replacing the live one.
func (s *Status) Line(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clearLocked()
	fmt.Fprintf(s.w, format+"\n", args...)
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
