package main

import (
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestMemoryLimitFollowsTheCache: a serving node's soft memory limit is
// hashing plus 64 MiB while its session cache is empty, and grows by
// auth.CachedSessionBytes for each session the cache takes in. Read from
// the Go runtime's own metric in a real child process, since the limit is
// the process's.
func TestMemoryLimitFollowsTheCache(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real server process")
	}
	_, base, out := startChild(t, "sqlite:"+filepath.Join(t.TempDir(), "g.db"), "--metrics-addr", "127.0.0.1:0", "--hash-slots", "1")
	m := regexp.MustCompile(`metrics on (http://\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("serve did not print the metrics address; output:\n%s", out.String())
	}
	limit := func() int64 {
		resp, err := http.Get(m[1])
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		v := regexp.MustCompile(`(?m)^go_gc_gomemlimit_bytes (\S+)$`).FindSubmatch(raw)
		if v == nil {
			t.Fatalf("metrics lack go_gc_gomemlimit_bytes")
		}
		f, err := strconv.ParseFloat(string(v[1]), 64)
		if err != nil {
			t.Fatal(err)
		}
		return int64(f)
	}
	if got, want := limit(), memoryLimit(1, 0); got != want {
		t.Errorf("limit of a fresh node = %d, want %d (one slot's hashing + 64 MiB)", got, want)
	}
	const sessions = 3
	for i := range sessions {
		email := "user" + strconv.Itoa(i) + "@example.com"
		if st, _ := call(t, "POST", base+"/v1/auth", "", `{"email":"`+email+`","password":"plum-kettle-orbit-42","password_confirmation":"plum-kettle-orbit-42"}`); st != http.StatusCreated {
			t.Fatalf("register %s: got %d", email, st)
		}
	}
	want := memoryLimit(1, sessions)
	deadline := time.Now().Add(3 * memoryLimitInterval)
	got := limit()
	for got != want && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		got = limit()
	}
	if got != want {
		t.Errorf("limit with %d cached sessions = %d, want %d", sessions, got, want)
	}
}
