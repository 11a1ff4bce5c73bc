package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/verifier"
)

// TestClusterRevocationStream: on PostgreSQL, a downstream service
// following node A's revocation stream refuses sessions signed out on node
// B — the stream is served from the shared log and woken by the change
// feed, so any node serves every change.
func TestClusterRevocationStream(t *testing.T) {
	serverURL := requireCluster(t)
	db := newTestDB(t, serverURL)
	nodes := startNodes(t, []string{"A", "B"}, db.url, "--rate-limit=false")
	a, b := nodes[0], nodes[1]
	db.waitListeners(t, len(nodes), nil, 10*time.Second)

	v, err := verifier.New(verifier.Config{URL: a.base, ServiceToken: insertServiceToken(t, db.url), HS256Key: []byte(clusterSecret)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); v.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(10 * time.Second)
	for !v.Healthy() {
		if time.Now().After(deadline) {
			t.Fatal("verifier following node A: not healthy within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}

	email := randomEmail("stream")
	must(t, "register on B", b.register(email), http.StatusCreated)
	var delays []time.Duration
	for range 20 {
		access := must(t, "sign in on B", b.signIn(email, clusterPassword), http.StatusOK).str("access")
		if _, err := v.Verify(access); err != nil {
			t.Fatalf("Verify(new session) = %v", err)
		}
		start := time.Now()
		must(t, "sign out on B", b.do("DELETE", "/v1/auth/sign_out", "", bearer(access)...), http.StatusOK)
		for {
			_, err := v.Verify(access)
			if errors.Is(err, verifier.ErrRevoked) {
				break
			}
			if time.Since(start) > revocationBound {
				t.Fatalf("a sign-out on B still accepted downstream (following A) after %v: %v", revocationBound, err)
			}
			time.Sleep(time.Millisecond)
		}
		delays = append(delays, time.Since(start))
	}
	t.Logf("sign-out on B → refused by a service following A: p50 %v, max %v", percentile(delays, 50), percentile(delays, 100))
}

// insertServiceToken stores a service token as gatehouse service-tokens
// create does (its SHA-256) and returns the token.
func insertServiceToken(t *testing.T, dbURL string) string {
	t.Helper()
	var raw [32]byte
	rand.Read(raw[:])
	secret := "ghst_" + base64.RawURLEncoding.EncodeToString(raw[:])
	hash := sha256.Sum256([]byte(secret))
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), `INSERT INTO service_tokens (name, hash, created_at) VALUES ('test', $1, now())`, hash[:]); err != nil {
		t.Fatalf("insert service token: %v", err)
	}
	return secret
}
