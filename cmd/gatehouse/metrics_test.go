package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestMetricsAfterScenario runs a small scenario through the fully wired
// service and checks that /metrics counted it.
func TestMetricsAfterScenario(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "g.db")
	cfg, err := parseConfig("serve", []string{"--db", db, "--cookie-secure=false"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	a, err := buildApp(context.Background(), cfg, newLogger(cfg, &logs))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	srv := httptest.NewServer(a.handler)
	defer srv.Close()

	const creds = `"email":"ada@example.com","password":"correct horse battery"`
	if st, _ := call(t, "POST", srv.URL+"/v1/auth", "", `{`+creds+`,"password_confirmation":"correct horse battery"}`); st != 201 {
		t.Fatalf("register: got %d, want 201", st)
	}
	if st, _ := call(t, "POST", srv.URL+"/v1/auth/sign_in", "", `{"email":"ada@example.com","password":"wrong password!"}`); st != 401 {
		t.Fatalf("sign_in with a wrong password: got %d, want 401", st)
	}
	st, body := call(t, "POST", srv.URL+"/v1/auth/sign_in", "", `{`+creds+`}`)
	if st != 200 {
		t.Fatalf("sign_in: got %d, want 200", st)
	}
	access, refresh := body["access"].(string), body["refresh"].(string)
	if st, _ := call(t, "GET", srv.URL+"/v1/auth/me", access, ""); st != 200 {
		t.Fatalf("me: got %d, want 200", st)
	}
	// Refresh, then sign out with the replaced access token, which still
	// works within the grace window.
	req, _ := http.NewRequest("POST", srv.URL+"/v1/auth/refresh", nil)
	req.Header.Set("X-Refresh-Token", refresh)
	req.Header.Set("X-Auth-Transport", "token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("refresh: got %v %v, want 200", resp.StatusCode, err)
	}
	resp.Body.Close()
	if st, _ := call(t, "DELETE", srv.URL+"/v1/auth/sign_out", access, ""); st != 200 {
		t.Fatalf("sign_out: got %d, want 200", st)
	}

	rec := httptest.NewRecorder()
	a.metrics.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	metrics := rec.Body.String()
	for _, want := range []string{
		`gatehouse_sign_ins_total{outcome="success"} 1`,
		`gatehouse_sign_ins_total{outcome="wrong_password"} 1`,
		`gatehouse_auth_events_total{event="register"} 1`,
		`gatehouse_auth_events_total{event="refresh"} 1`,
		`gatehouse_session_revocations_total{reason="sign_out"} 1`,
		`gatehouse_http_requests_total{method="POST",route="POST /v1/auth/sign_in",status="401"} 1`,
		`gatehouse_http_requests_total{method="GET",route="GET /v1/auth/me",status="200"} 1`,
		`gatehouse_active_sessions 1`,     // the registration's; the sign-in's was signed out
		`gatehouse_mail_outbox_pending 1`, // the registration's confirmation: no worker runs here
		`gatehouse_hash_queue_depth 0`,
		`gatehouse_change_feed_healthy 1`, // no feed started here: the cache is trusted
		`gatehouse_hash_queue_wait_seconds_count 3`,
	} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("GET /metrics lacks %q", want)
		}
	}
	// The audit trail has one line per event and no secret.
	for _, want := range []string{`"event":"register"`, `"event":"sign_in_failed"`, `"reason":"wrong_password"`, `"event":"sign_out"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("audit log lacks %s", want)
		}
	}
	for _, secret := range []string{"correct horse battery", access, refresh} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("log contains a secret: %.20s…", secret)
		}
	}
}

// TestMetricsOnlyOnItsOwnListener: the counters tell unknown_email from
// wrong_password, so the public port must not serve them; --metrics-addr
// does, and without it nothing does.
func TestMetricsOnlyOnItsOwnListener(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr lockedBuffer
	db := "sqlite:" + filepath.Join(t.TempDir(), "g.db")
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--db", db},
			func(string) string { return "" }, noStdin, &stdout, &stderr)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run after cancel: got %v, want nil", err)
		}
	}()
	base := waitForURL(t, &stdout)
	m := regexp.MustCompile(`metrics on (http://\S+)`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("serve did not print the metrics address; output:\n%s", stdout.String())
	}

	st, body := call(t, "GET", base+"/metrics", "", "")
	if st != http.StatusNotFound || body["code"] != "not_found" {
		t.Errorf("GET /metrics on the API port: got %d %v, want 404 not_found", st, body)
	}
	resp, err := http.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(raw), "# TYPE gatehouse_active_sessions gauge") {
		t.Errorf("GET %s: got %d %.200q, want 200 with Prometheus text", m[1], resp.StatusCode, raw)
	}
}

func TestMetricsAddrMustDifferFromAddr(t *testing.T) {
	_, err := parseConfig("serve", []string{"--addr", "127.0.0.1:3000", "--metrics-addr", "127.0.0.1:3000"}, func(string) string { return "" }, io.Discard)
	var u usageError
	if !errors.As(err, &u) {
		t.Errorf("parseConfig(--metrics-addr = --addr): got %v, want a usage error", err)
	}
}
