package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/loadgen"
)

// serverEnv is the environment of the servers the bench starts: this
// process's, without GATEHOUSE_* settings (a production GATEHOUSE_REDIS or
// GATEHOUSE_SECRET must not leak into a benchmark; the bench passes what the
// server needs as flags). GATEHOUSE_TEST_* hooks pass, so the tests can run
// the test binary as the server.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GATEHOUSE_") && !strings.HasPrefix(kv, "GATEHOUSE_TEST_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// startChild starts this binary with args as a server on loopback and
// waits until ready answers 200.
func (b *bench) startChild(ctx context.Context, ready string, args ...string) (*loadgen.Server, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if b.logFile == nil {
		if b.logFile, err = os.Create(filepath.Join(b.tmp, "server.log")); err != nil {
			return nil, err
		}
	}
	b.prog.Live("starting %s", args[0])
	s, err := loadgen.StartServer(ctx, exe, args, serverEnv(), b.logFile, 30*time.Second)
	if err != nil {
		return nil, err
	}
	if err := loadgen.WaitReady(ctx, b.client, s.URL+ready, 30*time.Second); err != nil {
		s.Stop(5 * time.Second)
		return nil, err
	}
	return s, nil
}

func (b *bench) startServer(ctx context.Context) error {
	s, err := b.startChild(ctx, "/readyz", "serve", "--addr", "127.0.0.1:0", "--db", b.dsn, "--secret-file", b.keyFile,
		"--rate-limit=false", "--cookie-secure=false",
		"--hash-slots", strconv.Itoa(b.cfg.hashSlots), "--hash-wait", b.cfg.hashWait.String())
	if err != nil {
		return err
	}
	b.server, b.api = s, s.URL
	return nil
}

// startServerIdle starts the server and returns its memory once it has
// settled, before any load.
func (b *bench) startServerIdle(ctx context.Context) (loadgen.Memory, error) {
	if err := b.startServer(ctx); err != nil {
		return loadgen.Memory{}, err
	}
	return b.idleMemory(ctx, b.server)
}

func (b *bench) startBaseline(ctx context.Context) error {
	s, err := b.startChild(ctx, "/", "bench-baseline")
	b.baseline = s
	return err
}

func (b *bench) stopServers() {
	for _, s := range []**loadgen.Server{&b.server, &b.baseline} {
		if *s != nil {
			(*s).Stop(20 * time.Second)
			*s = nil
		}
	}
}

// close stops the servers and closes their log.
func (b *bench) close() {
	b.stopServers()
	if b.logFile != nil {
		b.logFile.Close()
	}
}

// serverLogTail returns the end of the servers' stderr, to explain a
// failure.
func (b *bench) serverLogTail() string {
	if b.logFile == nil {
		return ""
	}
	out, err := os.ReadFile(b.logFile.Name())
	if err != nil || len(out) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return "\nlast lines of the server's log:\n" + strings.Join(lines[max(0, len(lines)-10):], "\n")
}

// idleMemory lets a fresh server settle, then reads its memory.
func (b *bench) idleMemory(ctx context.Context, s *loadgen.Server) (loadgen.Memory, error) {
	b.prog.Live("server idle, reading its memory")
	select {
	case <-ctx.Done():
		return loadgen.Memory{}, ctx.Err()
	case <-time.After(min(time.Second, b.cfg.duration)):
	}
	return s.Memory()
}
