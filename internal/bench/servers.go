package bench

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/loadgen"
)

// servers are the child processes a run starts: gatehouse serve and the
// bench-baseline server, both writing to one log in the run's folder.
type servers struct {
	bin    Binary
	tmp    string
	prog   *loadgen.Status
	client *http.Client

	gatehouse *loadgen.Server // nil with --url
	baseline  *loadgen.Server
	logFile   *os.File
}

// startChild starts the gatehouse binary with args as a server on loopback
// and waits until ready answers 200.
func (s *servers) startChild(ctx context.Context, ready string, args ...string) (*loadgen.Server, error) {
	if s.logFile == nil {
		var err error
		if s.logFile, err = os.Create(filepath.Join(s.tmp, "server.log")); err != nil {
			return nil, err
		}
	}
	s.prog.Live("starting %s", args[0])
	child, err := loadgen.StartServer(ctx, s.bin.Path, args, s.bin.Env, s.logFile, 30*time.Second)
	if err != nil {
		return nil, err
	}
	if err := loadgen.WaitReady(ctx, s.client, child.URL+ready, 30*time.Second); err != nil {
		child.Stop(5 * time.Second)
		return nil, err
	}
	return child, nil
}

// startGatehouse starts gatehouse serve on dsn, with the root secret in
// keyFile and the hash limits of cfg.
func (s *servers) startGatehouse(ctx context.Context, dsn, keyFile string, cfg *Config) error {
	child, err := s.startChild(ctx, "/readyz", "serve", "--addr", "127.0.0.1:0", "--db", dsn, "--secret-file", keyFile,
		"--rate-limit=false", "--cookie-secure=false",
		"--hash-slots", strconv.Itoa(cfg.HashSlots), "--hash-wait", cfg.HashWait.String())
	if err != nil {
		return err
	}
	s.gatehouse = child
	return nil
}

func (s *servers) startBaseline(ctx context.Context) error {
	child, err := s.startChild(ctx, "/", "bench-baseline")
	s.baseline = child
	return err
}

func (s *servers) stop() {
	for _, c := range []**loadgen.Server{&s.gatehouse, &s.baseline} {
		if *c != nil {
			(*c).Stop(20 * time.Second)
			*c = nil
		}
	}
}

// close stops the servers and closes their log.
func (s *servers) close() {
	s.stop()
	if s.logFile != nil {
		s.logFile.Close()
	}
}

// logTail returns the end of the servers' stderr, to explain a failure.
func (s *servers) logTail() string {
	if s.logFile == nil {
		return ""
	}
	out, err := os.ReadFile(s.logFile.Name())
	if err != nil || len(out) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return "\nlast lines of the server's log:\n" + strings.Join(lines[max(0, len(lines)-10):], "\n")
}

// idleMemory lets a fresh server settle for up to settle, then reads its
// memory.
func (s *servers) idleMemory(ctx context.Context, child *loadgen.Server, settle time.Duration) (loadgen.Memory, error) {
	s.prog.Live("server idle, reading its memory")
	select {
	case <-ctx.Done():
		return loadgen.Memory{}, ctx.Err()
	case <-time.After(min(time.Second, settle)):
	}
	return child.Memory()
}
