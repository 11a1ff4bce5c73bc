package loadgen

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"testing"
	"time"
)

// serveEnv makes the test binary, started by TestStartServer, serve
// instead of testing.
const serveEnv = "LOADGEN_TEST_SERVE"

func TestMain(m *testing.M) {
	if os.Getenv(serveEnv) != "" {
		serveForTest()
		return
	}
	os.Exit(m.Run())
}

func serveForTest() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("test server listening on http://%s\n", ln.Addr())
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })}
	go srv.Serve(ln)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt)
	<-stop
	srv.Close()
}

func TestStartServer(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	s, err := StartServer(context.Background(), exe, nil, append(os.Environ(), serveEnv+"=1"), nil, 20*time.Second)
	if err != nil {
		t.Fatalf("StartServer: %v", err)
	}
	defer s.Stop(5 * time.Second)
	if err := WaitReady(context.Background(), NewClient(1, time.Second), s.URL, 10*time.Second); err != nil {
		t.Fatalf("WaitReady(%s): %v", s.URL, err)
	}
	m, err := s.Memory()
	if err != nil {
		t.Fatalf("Memory: %v", err)
	}
	if m.RSS < 1<<20 || m.Peak < m.RSS {
		t.Errorf("Memory() = %+v, want RSS ≥ 1 MiB and Peak ≥ RSS", m)
	}
	if err := s.Stop(5 * time.Second); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

func TestStartServerThatExits(t *testing.T) {
	_, err := StartServer(context.Background(), "/bin/true", nil, nil, nil, 5*time.Second)
	if err == nil {
		t.Error("StartServer(/bin/true) = nil error, want one: it never listens")
	}
}

func TestReadMemoryOfSelf(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	m, err := ReadMemory(os.Getpid())
	if err != nil || m.RSS <= 0 {
		t.Errorf("ReadMemory(self) = %+v, %v; want a positive RSS", m, err)
	}
}

func TestProcessCPUOfSelf(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	before, err := ProcessCPU(os.Getpid())
	if err != nil {
		t.Fatalf("ProcessCPU(self): %v", err)
	}
	// Spin until the counter moves: on a busy machine 100ms of wall time
	// may be far less CPU time, so spin on the counter, not the clock.
	start := time.Now()
	after := before
	for after < before+50*time.Millisecond && time.Since(start) < 10*time.Second {
		for end := time.Now().Add(5 * time.Millisecond); time.Now().Before(end); {
		}
		if after, err = ProcessCPU(os.Getpid()); err != nil {
			t.Fatalf("ProcessCPU(self): %v", err)
		}
	}
	wall := time.Since(start)
	if d := after - before; d < 50*time.Millisecond || d > time.Duration(runtime.NumCPU())*wall+clockTick {
		t.Errorf("ProcessCPU grew by %v in %v of spinning, want at least 50ms and at most NumCPU × wall", d, wall)
	}
}
