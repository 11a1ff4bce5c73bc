package httpapi_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/token"
)

// TestJWKS: the ring's public keys at /.well-known/jwks.json, cacheable
// (the one answer that is), in the shape openapi.json describes (do checks
// every exchange against it).
func TestJWKS(t *testing.T) {
	t.Parallel()
	iss, err := token.NewIssuer([]byte("jwks-test-root-key-jwks-test-root-key"), time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	key, err := token.GenerateKey("ed-1", token.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	if err := iss.SetKeys([]token.Key{key}, "ed-1"); err != nil {
		t.Fatal(err)
	}
	ts := newServer(t, serverOptions{jwks: iss.JWKS})
	resp := ts.do(t, request{method: "GET", path: "/.well-known/jwks.json"})
	if resp.status != http.StatusOK || resp.header.Get("Cache-Control") != "public, max-age=300" {
		t.Fatalf("GET /.well-known/jwks.json: got %d, Cache-Control %q; want 200, public, max-age=300", resp.status, resp.header.Get("Cache-Control"))
	}
	var set struct {
		Keys []struct{ Kid, Kty, Alg string }
	}
	if err := json.Unmarshal([]byte(resp.body), &set); err != nil || len(set.Keys) != 1 || set.Keys[0].Kid != "ed-1" || set.Keys[0].Kty != "OKP" || set.Keys[0].Alg != "EdDSA" {
		t.Errorf("GET /.well-known/jwks.json: got %s (%v), want the one Ed25519 key ed-1", resp.body, err)
	}
}
