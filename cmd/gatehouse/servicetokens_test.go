package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// TestServiceTokens: a token printed by create authenticates a service
// until revoke, list shows it without its secret, and mistakes are clear.
func TestServiceTokens(t *testing.T) {
	c := newCLI(t)
	secret := strings.TrimSpace(c.mustRun("service-tokens", "create", "billing"))
	c.mustRun("service-tokens", "create", "search")

	a := c.app()
	if _, err := a.svc.AuthenticateService(t.Context(), secret, auth.Client{}); err != nil {
		t.Fatalf("AuthenticateService(created token) = %v", err)
	}
	table := c.mustRun("service-tokens", "list")
	if !strings.Contains(table, "billing") || !strings.Contains(table, "search") || strings.Contains(table, secret) {
		t.Errorf("service-tokens list =\n%s\nwant both names and no secret", table)
	}

	c.mustRun("service-tokens", "revoke", "1")
	if _, err := a.svc.AuthenticateService(t.Context(), secret, auth.Client{}); !errors.Is(err, auth.ErrNotAuthorized) {
		t.Errorf("AuthenticateService(revoked token) = %v; want ErrNotAuthorized", err)
	}
	var list []struct {
		ID        int64   `json:"id"`
		Name      string  `json:"name"`
		RevokedAt *string `json:"revoked_at"`
	}
	if err := json.Unmarshal([]byte(c.mustRun("service-tokens", "list", "--json")), &list); err != nil {
		t.Fatalf("service-tokens list --json: %v", err)
	}
	if len(list) != 2 || list[0].RevokedAt == nil || list[1].RevokedAt != nil {
		t.Errorf("service-tokens list --json = %+v; want billing revoked, search not", list)
	}

	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"RevokeUnknown", []string{"service-tokens", "revoke", "99"}, "no service token 99"},
		{"RevokeNotAnID", []string{"service-tokens", "revoke", "billing"}, "not a token id"},
		{"CreateBlankName", []string{"service-tokens", "create", " "}, "Name must be"},
		{"NoCommand", []string{"service-tokens"}, "missing command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := c.run(tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("gatehouse %s = %v; want an error containing %q", strings.Join(tc.args, " "), err, tc.wantErr)
			}
		})
	}
}

// TestShutdownEndsStreams: an open revocation stream does not hold a
// stopping server until --shutdown-timeout: it ends when shutdown begins,
// and serve returns cleanly.
func TestShutdownEndsStreams(t *testing.T) {
	c := newCLI(t)
	secret := strings.TrimSpace(c.mustRun("service-tokens", "create", "follower"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--db", c.db, "--shutdown-drain", "100ms", "--shutdown-timeout", "30s"},
			func(string) string { return "" }, noStdin, &stdout, &stderr)
	}()
	base := waitForURL(t, &stdout)
	req, _ := http.NewRequest("GET", base+"/v1/auth/revocations", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/auth/revocations = %v, %v; want 200", resp, err)
	}
	defer resp.Body.Close()

	stopped := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve with an open stream returned %v; want a clean stop", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve with an open stream still running 10s after SIGTERM")
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Logf("stream ended with %v", err)
	}
	t.Logf("stopped in %v", time.Since(stopped))
}
