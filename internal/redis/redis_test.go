package redis

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/auth"
)

func TestOptions(t *testing.T) {
	tests := []struct {
		name              string
		url               string
		wantDial, wantIO  time.Duration
		wantPool, wantDB  int
		wantAddr          string
		wantRetries       int
		wantDialerRetries int
	}{
		{
			name: "Defaults", url: "redis://127.0.0.1:6379/0",
			wantAddr: "127.0.0.1:6379", wantDial: dialTimeout, wantIO: ioTimeout,
			wantPool: poolSize, wantRetries: maxRetries, wantDialerRetries: dialAttempts,
		},
		{
			name: "URLWins", url: "redis://:pw@cache.internal:6380/3?dial_timeout=5s&read_timeout=2s&write_timeout=2s&pool_size=40&max_retries=3",
			wantAddr: "cache.internal:6380", wantDB: 3, wantDial: 5 * time.Second, wantIO: 2 * time.Second,
			wantPool: 40, wantRetries: 3, wantDialerRetries: dialAttempts,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opt, err := options(tc.url)
			if err != nil {
				t.Fatalf("options(%q) = %v", tc.url, err)
			}
			got := []any{opt.Addr, opt.DB, opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.PoolSize, opt.MaxRetries, opt.DialerRetries, opt.ContextTimeoutEnabled}
			want := []any{tc.wantAddr, tc.wantDB, tc.wantDial, tc.wantIO, tc.wantIO, tc.wantPool, tc.wantRetries, tc.wantDialerRetries, true}
			names := []string{"Addr", "DB", "DialTimeout", "ReadTimeout", "WriteTimeout", "PoolSize", "MaxRetries", "DialerRetries", "ContextTimeoutEnabled"}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("options(%q).%s = %v, want %v", tc.url, names[i], got[i], want[i])
				}
			}
		})
	}
}

func TestOpen_BadURL(t *testing.T) {
	for _, url := range []string{
		"",
		"http://:hunter2@127.0.0.1:6379/0",
		"redis://:hunter2@127.0.0.1:6379/notanumber",
		"redis://:hunter2@127.0.0.1:6379/0?no_such_option=1",
	} {
		_, err := Open(t.Context(), url)
		if err == nil {
			t.Errorf("Open(%q) = nil error, want one", url)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open(%q) error %q contains the password", url, err)
		}
	}
}

// A Redis that cannot be reached fails fast with a plain error, which the
// service answers with 503 (auth.CodeUnavailable), never an auth error
// that would mean something else, and never a hang.
func TestOpen_Unreachable(t *testing.T) {
	t.Parallel()
	const url = "redis://:hunter2@127.0.0.1:1/0"
	start := time.Now()
	_, err := Open(t.Context(), url)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Open(port 1) took %v, want a refusal well within 3s", took)
	}
	checkUnavailable(t, "Open(port 1)", err)
	if err != nil && strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Open(port 1) error %q contains the password", err)
	}

	// A client whose server went away after Open: every call fails, fast.
	opt, err := options(url)
	if err != nil {
		t.Fatal(err)
	}
	client := goredis.NewClient(opt)
	defer client.Close()
	c := NewCounter(client, "gatehouse-test:")
	for range 3 {
		start := time.Now()
		_, err := c.Admit(t.Context(), testRate)
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("Admit on port 1 took %v, want an error within 2s", took)
		}
		checkUnavailable(t, "Admit on port 1", err)
	}
	checkUnavailable(t, "Settle on port 1", c.Settle(t.Context(), auth.Settlement{Clear: []string{"k"}}))
}

// A server that accepts connections and then says nothing (a hung Redis, a
// partition after the handshake) fails calls within the timeouts, rather
// than holding every sign-in for as long as it lasts.
func TestCounter_StalledServer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c) // read nothing, answer nothing
		}
	}()
	opt, err := options("redis://" + ln.Addr().String() + "/0")
	if err != nil {
		t.Fatal(err)
	}
	client := goredis.NewClient(opt)
	defer client.Close()
	c := NewCounter(client, "gatehouse-test:")

	start := time.Now()
	_, err = c.Admit(t.Context(), testRate)
	took := time.Since(start)
	checkUnavailable(t, "Admit on a stalled server", err)
	// Read timeout 1s per try, one retry.
	if limit := (maxRetries + 1) * (ioTimeout + 500*time.Millisecond); took > limit {
		t.Errorf("Admit on a stalled server took %v, want an error within %v", took, limit)
	}
	t.Logf("Admit on a stalled server failed after %v: %v", took, err)

	// A request deadline shorter than the timeouts is honored.
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start = time.Now()
	err = c.Settle(ctx, auth.Settlement{Clear: []string{"k"}})
	if took := time.Since(start); took > time.Second {
		t.Errorf("Settle with a 200ms deadline on a stalled server took %v, want about 200ms", took)
	}
	checkUnavailable(t, "Settle with a 200ms deadline on a stalled server", err)
}

// testRate is an admission that only takes from one rate window.
var testRate = auth.Admission{Rates: []auth.Rate{{Key: "k", Limit: 10, Window: time.Minute}}}

// checkUnavailable checks that err is a failure the service answers with
// 503: a plain error, not an *auth.Error.
func checkUnavailable(t *testing.T, callName string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s = nil error, want one", callName)
		return
	}
	var ae *auth.Error
	if errors.As(err, &ae) {
		t.Errorf("%s = %v, an *auth.Error; want a plain error", callName, err)
	}
	if code := auth.ErrorCode(err); code != auth.CodeUnavailable {
		t.Errorf("auth.ErrorCode(%s = %v) = %q, want %q", callName, err, code, auth.CodeUnavailable)
	}
	if !strings.HasPrefix(err.Error(), "redis: ") {
		t.Errorf("%s = %q, want it to start with \"redis: \"", callName, err)
	}
}
