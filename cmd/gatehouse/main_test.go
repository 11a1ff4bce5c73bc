package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"golang.org/x/crypto/bcrypt"
)

// When the test binary is started with this variable set it runs the real
// main instead of the tests: the durability test kills that process with
// SIGKILL, which it cannot do to itself.
const childEnv = "GATEHOUSE_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		main()
		return
	}
	os.Exit(m.Run())
}

var listening = regexp.MustCompile(`listening on (http://\S+)`)

// lockedBuffer collects a server's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitForURL polls out until the server printed its address, then polls
// /healthz until it answers.
func waitForURL(t *testing.T, out stringer) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := listening.FindStringSubmatch(out.String()); m != nil {
			if resp, err := http.Get(m[1] + "/healthz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return m[1]
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("server did not come up; output:\n%s", out.String())
	return ""
}

type stringer interface{ String() string }

func TestRunServesAndShutsDown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr lockedBuffer
	db := "sqlite:" + filepath.Join(t.TempDir(), "g.db")
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--db", db}, func(string) string { return "" }, noStdin, &stdout, &stderr)
	}()
	base := waitForURL(t, &stdout)

	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /readyz: got %d, want 200", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after cancel: got %v, want nil", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return after its context was cancelled")
	}
}

func TestRunUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{name: "unknownCommand", args: []string{"frobnicate"}, want: "unknown command"},
		{name: "shortSecret", args: []string{"--secret", "short"}, want: "at least 32 bytes"},
		{name: "shortSecretFromEnv", env: map[string]string{"GATEHOUSE_SECRET": "short"}, want: "at least 32 bytes"},
		{name: "badDB", args: []string{"--db", "mysql://x"}, want: "neither sqlite"},
		{name: "badDuration", args: []string{"--access-ttl", "soon"}, want: "invalid value"},
		{name: "badProxy", args: []string{"--trusted-proxies", "not-a-cidr"}, want: "not a CIDR"},
		{name: "badOrigin", args: []string{"--cors-origins", "example.com"}, want: "not an origin"},
		{name: "strayArgument", args: []string{"serve", "extra"}, want: "unexpected argument"},
		{name: "sameSiteNoneWithoutSecure", args: []string{"--cookie-samesite", "none", "--cookie-secure=false"}, want: "--cookie-samesite none needs --cookie-secure"},
		{name: "sameSiteNoneWithoutSecureFromEnv", env: map[string]string{"GATEHOUSE_COOKIE_SAMESITE": "none", "GATEHOUSE_COOKIE_SECURE": "false"}, want: "needs --cookie-secure"},
		{name: "badSameSite", args: []string{"--cookie-samesite", "relaxed"}, want: "lax, strict or none"},
		{name: "ipv6PrefixTooShort", args: []string{"--ipv6-prefix", "16"}, want: "between 32 and 128"},
		{name: "ipv6PrefixTooLong", args: []string{"--ipv6-prefix", "129"}, want: "between 32 and 128"},
		{name: "corsHeaderWildcard", args: []string{"--cors-headers", "*"}, want: "no wildcard"},
		{name: "corsHeaderNotAName", args: []string{"--cors-headers", "X-Ok, bad header"}, want: "not a header name"},
		{name: "emptySessionCache", args: []string{"--session-cache-size", "0"}, want: "--session-cache-size must be at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string { return tt.env[k] }
			err := run(context.Background(), tt.args, getenv, noStdin, io.Discard, io.Discard)
			var u usageError
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.As(err, &u) {
				t.Errorf("run(%q): got %v, want a usage error containing %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestFlagsWinOverEnvironment(t *testing.T) {
	env := map[string]string{"GATEHOUSE_ADDR": "127.0.0.1:1", "GATEHOUSE_ACCESS_TTL": "5m"}
	cfg, err := parseConfig("serve", []string{"--addr", "127.0.0.1:2"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:2" || cfg.AccessTTL != 5*time.Minute {
		t.Errorf("parseConfig: got addr %q ttl %v, want the flag's addr and the env's ttl", cfg.Addr, cfg.AccessTTL)
	}
}

// startChild runs the real binary (this test binary in main mode) on db,
// with extra flags, and returns it, its URL and what it printed. Without
// an operator's GOMEMLIMIT, so it sets its own as a node does.
func startChild(t *testing.T, db string, extra ...string) (*exec.Cmd, string, *lockedBuffer) {
	t.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db, "--cookie-secure=false", "--rate-limit=false"}, extra...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), childEnv+"=1", "GOMEMLIMIT=")
	out := new(lockedBuffer)
	cmd.Stdout = out
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, waitForURL(t, out), out
}

// TestKillDashNineLosesNothing: what a success response acknowledged
// survives SIGKILL, and what was revoked stays revoked.
func TestKillDashNineLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real server processes")
	}
	db := "sqlite:" + filepath.Join(t.TempDir(), "g.db")
	cmd, base, _ := startChild(t, db)

	tokens := make([]string, 3)
	for i := range tokens {
		email := "user" + string(rune('a'+i)) + "@example.com"
		st, body := call(t, "POST", base+"/v1/auth", "", `{"email":"`+email+`","password":"correct horse battery","password_confirmation":"correct horse battery"}`)
		if st != http.StatusCreated {
			t.Fatalf("register %s: got %d %s", email, st, body)
		}
		tokens[i] = body["access"].(string)
	}
	if st, _ := call(t, "DELETE", base+"/v1/auth/sign_out", tokens[0], ""); st != http.StatusOK {
		t.Fatalf("sign_out: got %d, want 200", st)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	_, base, _ = startChild(t, db)
	if st, _ := call(t, "GET", base+"/v1/auth/me", tokens[0], ""); st != http.StatusUnauthorized {
		t.Errorf("signed-out token after kill -9: got %d, want 401", st)
	}
	for _, tok := range tokens[1:] {
		if st, _ := call(t, "GET", base+"/v1/auth/me", tok, ""); st != http.StatusOK {
			t.Errorf("live token after kill -9: got %d, want 200", st)
		}
	}
	if st, _ := call(t, "POST", base+"/v1/auth/sign_in", "", `{"email":"usera@example.com","password":"correct horse battery"}`); st != http.StatusOK {
		t.Errorf("sign_in of a user registered before kill -9: got %d, want 200", st)
	}
}

// call makes a token-transport request and decodes a JSON object answer.
func call(t *testing.T, method, url, bearer, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Auth-Transport", "token")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(bufio.NewReader(resp.Body))
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

// noStdin is the standard input of a run that reads none: empty, so a
// command that did read it would see end of file, never the terminal of
// whoever runs the tests.
var noStdin io.Reader = strings.NewReader("")

// TestRun_StdinReachesCommands: every command that reads standard input
// reads run's stdin (main passes os.Stdin), so the whole program is
// testable through run, input included.
func TestRun_StdinReachesCommands(t *testing.T) {
	const (
		newPassword = "a different passphrase"
		railsPass   = "from the rails days"
	)
	digest, err := bcrypt.GenerateFromPassword([]byte(railsPass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	c := newCLI(t)
	steps := []struct {
		name     string
		input    string
		args     []string
		email    string // signs in with password afterwards
		password string
	}{
		{name: "usersCreatePasswordStdin", input: cliPassword + "\n", email: "in@example.com", password: cliPassword,
			args: []string{"users", "create", "--email", "in@example.com", "--password-stdin"}},
		{name: "usersSetPasswordStdin", input: newPassword + "\n", email: "in@example.com", password: newPassword,
			args: []string{"users", "set-password", "in@example.com", "--password-stdin"}},
		{name: "usersImportDash", input: fmt.Sprintf(`{"id": 7, "email": "rails@example.com", "password_digest": %q}`+"\n", digest),
			email: "rails@example.com", password: railsPass, args: []string{"users", "import", "--format", "jsonl", "-"}},
	}
	for _, st := range steps {
		if _, errOut, err := c.runInput(st.input, st.args...); err != nil {
			t.Fatalf("%s: gatehouse %s: %v\nstderr: %s", st.name, strings.Join(st.args, " "), err, errOut)
		}
		creds := auth.Credentials{Email: st.email, Password: st.password}
		if _, err := c.app().svc.SignIn(context.Background(), creds); err != nil {
			t.Errorf("%s: SignIn(%s) with the password from stdin: %v", st.name, st.email, err)
		}
	}
}
