package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// listening is the line a server prints once it accepts connections.
var listening = regexp.MustCompile(`listening on (https?://\S+)`)

// Server is a server running as a child process, so that its memory is
// its own (not mixed with the load generator's) and it runs exactly as it
// would in production.
type Server struct {
	// URL is the base URL the server printed, such as http://127.0.0.1:41234.
	URL  string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done is closed
}

// StartServer starts name with args and env (nil: this process's
// environment), sends its stderr to logw (nil discards it), and waits up to
// timeout for it to print "listening on http://ADDR" on stdout. ADDR must
// be loopback. The child is signalled to stop if this process dies.
func StartServer(ctx context.Context, name string, args, env []string, logw io.Writer, timeout time.Duration) (*Server, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = env
	cmd.Stderr = logw
	setParentDeathSignal(cmd)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("loadgen: start %s: %w", name, err)
	}
	s := &Server{cmd: cmd, done: make(chan struct{})}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		io.Copy(io.Discard, stdout) // keep the pipe from filling up
		s.err = cmd.Wait()
		close(s.done)
	}()

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case s.URL = <-found:
	case <-s.done:
		return nil, fmt.Errorf("loadgen: %s exited before listening: %v", name, s.err)
	case <-timer.C:
		s.Stop(time.Second)
		return nil, fmt.Errorf("loadgen: %s did not print its address within %v", name, timeout)
	case <-ctx.Done():
		s.Stop(time.Second)
		return nil, ctx.Err()
	}
	if err := CheckLoopback(s.URL); err != nil {
		s.Stop(time.Second)
		return nil, err
	}
	return s, nil
}

// Pid returns the child's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Stop asks the server to shut down (SIGINT, as Ctrl-C would), waits up to
// timeout, then kills it. It returns the exit error of an unclean exit.
func (s *Server) Stop(timeout time.Duration) error {
	select {
	case <-s.done:
		return s.exitErr()
	default:
	}
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
		return s.exitErr()
	case <-time.After(timeout):
	}
	s.cmd.Process.Kill()
	<-s.done
	return fmt.Errorf("loadgen: server did not stop within %v; killed", timeout)
}

func (s *Server) exitErr() error {
	var ee *exec.ExitError
	if errors.As(s.err, &ee) && !ee.Exited() {
		return nil // ended by our signal
	}
	return s.err
}

// Memory is a process's resident memory, from /proc/PID/status (Linux).
type Memory struct {
	RSS  int64 // VmRSS: resident now, bytes
	Peak int64 // VmHWM: the most ever resident, bytes
}

// Memory reads the child's resident memory.
func (s *Server) Memory() (Memory, error) { return ReadMemory(s.Pid()) }

// ReadMemory reads the resident memory of process pid from
// /proc/PID/status; it fails where there is no /proc.
func ReadMemory(pid int) (Memory, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return Memory{}, fmt.Errorf("loadgen: read memory: %w", err)
	}
	var m Memory
	for line := range strings.Lines(string(b)) {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *int64
		switch name {
		case "VmRSS":
			dst = &m.RSS
		case "VmHWM":
			dst = &m.Peak
		default:
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("loadgen: read memory: %s: %q", name, value)
		}
		*dst = kb << 10
	}
	if m.RSS == 0 {
		return Memory{}, fmt.Errorf("loadgen: read memory: no VmRSS for pid %d", pid)
	}
	return m, nil
}

// CPU returns the CPU time (user + system, all threads) the child has used
// so far, or 0 if it cannot be read.
func (s *Server) CPU() time.Duration {
	d, _ := ProcessCPU(s.Pid())
	return d
}

// clockTick is the unit of the times in /proc/PID/stat: USER_HZ, which is
// 100 on every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// ProcessCPU reads the CPU time process pid has used (user + system, all
// its threads, living and exited) from /proc/PID/stat, in 10ms ticks.
func ProcessCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("loadgen: read cpu: %w", err)
	}
	// The command name (field 2) is in parentheses and may hold spaces;
	// utime and stime are fields 14 and 15, the 12th and 13th after it.
	i := strings.LastIndexByte(string(b), ')')
	var f []string
	if i >= 0 {
		f = strings.Fields(string(b[i+1:]))
	}
	if len(f) < 13 {
		return 0, fmt.Errorf("loadgen: read cpu: malformed /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("loadgen: read cpu: %w", err)
	}
	return time.Duration(utime+stime) * clockTick, nil
}
