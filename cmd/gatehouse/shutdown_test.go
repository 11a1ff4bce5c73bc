package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestShutdownRefusesCleanly stops a loaded server and checks what every
// request got: an answer (a 503 during shutdown must carry Retry-After) or
// a refused connection. A request sent on a connection that the server then
// closed without answering (EOF, reset) is the failure: the client cannot
// know whether it was done. The requests are POSTs, which Go's client does
// not retry on its own, so nothing hides a dropped one.
func TestShutdownRefusesCleanly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr lockedBuffer
	db := "sqlite:" + filepath.Join(t.TempDir(), "g.db")
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--db", db, "--rate-limit=false", "--shutdown-drain", "500ms"},
			func(string) string { return "" }, noStdin, &stdout, &stderr)
	}()
	base := waitForURL(t, &stdout)

	const workers = 16
	var (
		mu               sync.Mutex
		answered, draind int
		dropped          []string
		wg               sync.WaitGroup
	)
	body := `{"refresh_token":"not-a-token"}`
	for range workers {
		wg.Go(func() {
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			defer client.CloseIdleConnections()
			for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
				resp, err := client.Post(base+"/v1/auth/refresh", "application/json", strings.NewReader(body))
				if errors.Is(err, syscall.ECONNREFUSED) {
					return // the server is gone, and said so
				}
				mu.Lock()
				switch {
				case err != nil:
					dropped = append(dropped, err.Error())
				case resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "":
					dropped = append(dropped, "503 without Retry-After")
				case resp.StatusCode == http.StatusServiceUnavailable:
					draind++
				default:
					answered++
				}
				mu.Unlock()
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				// A client that honours Retry-After is elsewhere when the
				// listener closes.
				if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
					time.Sleep(time.Duration(s) * time.Second)
				}
			}
			mu.Lock()
			dropped = append(dropped, "server still accepting 15s after the load began")
			mu.Unlock()
		})
	}
	time.Sleep(300 * time.Millisecond)
	cancel()
	wg.Wait()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after cancel: got %v, want nil", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return after its context was cancelled")
	}
	t.Logf("answered %d, 503 while draining %d, dropped %d", answered, draind, len(dropped))
	if len(dropped) > 0 {
		t.Errorf("%d requests got neither an answer nor a refused connection, e.g. %s", len(dropped), fmt.Sprint(dropped[:min(3, len(dropped))]))
	}
}
