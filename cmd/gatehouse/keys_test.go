package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/token"
)

// register signs a user up through srv and returns the tokens.
func register(t *testing.T, srvURL, email string) (access, refresh string) {
	t.Helper()
	st, body := call(t, "POST", srvURL+"/v1/auth", "", `{"email":"`+email+`","password":"`+cliPassword+`","password_confirmation":"`+cliPassword+`"}`)
	if st != 201 {
		t.Fatalf("register %s: got %d %v", email, st, body)
	}
	return body["access"].(string), body["refresh"].(string)
}

// TestKeysCommands walks a rotation through the CLI: the seed's ring is
// root alone; add, activate (not too early), retire and remove follow the
// rules; a node then signs with the new key and still accepts the old
// key's tokens until it is removed.
func TestKeysCommands(t *testing.T) {
	c := newCLI(t)
	if out := c.mustRun("keys", "list"); !strings.Contains(out, "root") || !strings.Contains(out, "active") {
		t.Fatalf("keys list on a new database:\n%s\nwant root, active", out)
	}
	a := c.app()
	srv := httptest.NewServer(a.handler)
	defer srv.Close()
	oldAccess, _ := register(t, srv.URL, "ada@example.com")

	out := c.mustRun("keys", "add")
	id := strings.TrimSuffix(strings.Fields(out)[3], ";") // "added HS256 key <id>; …"
	if _, _, err := c.run("keys", "activate", id); err == nil || exitStatus(err) != 1 {
		t.Errorf("keys activate %s right after add: err %v, want refused (exit 1): not yet published long enough", id, err)
	}
	for _, refused := range [][]string{{"keys", "retire", "root"}, {"keys", "remove", "root"}, {"keys", "activate", "nope", "--force"}} {
		if _, _, err := c.run(refused...); err == nil {
			t.Errorf("gatehouse %s = nil error, want refused", strings.Join(refused, " "))
		}
	}
	c.mustRun("keys", "activate", id, "--force")
	if _, _, err := c.run("keys", "remove", "root"); err == nil {
		t.Error("keys remove root right after it retired = nil error, want refused for the session lifetime")
	}

	var keys []keyJSON
	if err := json.Unmarshal([]byte(c.mustRun("keys", "list", "--json")), &keys); err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, k := range keys {
		states[k.ID] = k.State
	}
	if states["root"] != "retired" || states[id] != "active" {
		t.Errorf("keys list after activating %s: %v, want root retired, %s active", id, states, id)
	}

	// A node started now signs with the new key and accepts both.
	b := c.app()
	if b.keys.tokens.SignerID() != id {
		t.Errorf("a node's signing key after activation = %q, want %q", b.keys.tokens.SignerID(), id)
	}
	if _, err := b.svc.Authenticate(t.Context(), oldAccess); err != nil {
		t.Errorf("Authenticate(token signed by retired root) = %v, want nil: retired keys verify", err)
	}

	c.mustRun("keys", "remove", "root", "--force")
	d := c.app()
	if _, err := d.svc.Authenticate(t.Context(), oldAccess); err == nil {
		t.Error("Authenticate(token signed by removed root) = nil, want refused")
	}
}

// TestServeEdDSAPublishesJWKS: with --token-alg EdDSA a node generates a
// key, its tokens carry the kid, and an independent JOSE library verifies
// them with nothing but the published JWKS.
func TestServeEdDSAPublishesJWKS(t *testing.T) {
	c := newCLI(t)
	cfg, err := parseConfig("test", []string{"--db", c.db, "--rate-limit=false", "--token-alg", "EdDSA"}, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a, err := buildApp(t.Context(), cfg, newLogger(cfg, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	srv := httptest.NewServer(a.handler)
	defer srv.Close()
	access, _ := register(t, srv.URL, "ada@example.com")
	if st, _ := call(t, "GET", srv.URL+"/v1/auth/me", access, ""); st != 200 {
		t.Errorf("me with an EdDSA token: got %d, want 200", st)
	}

	resp, err := http.Get(srv.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "public, max-age=300" {
		t.Errorf("GET jwks.json: %d, Cache-Control %q; want 200, public, max-age=300", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("jwks.json = %s (%v), want one key", raw, err)
	}
	jws, err := jose.ParseSignedCompact(access, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatalf("go-jose: parse access token: %v", err)
	}
	if kid := jws.Signatures[0].Header.KeyID; kid != set.Keys[0].KeyID {
		t.Errorf("token kid %q, JWKS kid %q", kid, set.Keys[0].KeyID)
	}
	if _, err := jws.Verify(set.Keys[0]); err != nil {
		t.Errorf("go-jose: verify the access token with the JWKS key: %v", err)
	}
}

// TestRootSecretKeptOutOfDatabase: on SQLite the generated root secret is
// a file of its own beside the database, and every file is owner-only
// even under umask 022. A copy of the database files alone mints nothing:
// no byte string in it signs a token the server accepts.
func TestRootSecretKeptOutOfDatabase(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	c := newCLI(t)
	a := c.app()
	srv := httptest.NewServer(a.handler)
	access, _ := register(t, srv.URL, "ada@example.com")
	c.mustRun("keys", "add", "--alg", "ES256")
	// The victim's claims, as if the attacker had also seen a token: only
	// the signature is missing.
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(access, ".")[1])
	var claims token.Claims
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	srv.Close()

	path := strings.TrimPrefix(c.db, "sqlite:")
	root, err := os.ReadFile(path + ".key")
	if err != nil {
		t.Fatalf("root secret file: %v", err)
	}
	dir := filepath.Dir(path)
	entries, _ := os.ReadDir(dir)
	var files []string
	for _, e := range entries {
		info, _ := e.Info()
		if perm := info.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %v under umask 022, want owner-only", e.Name(), perm)
		}
		if e.Name() != filepath.Base(path)+".key" {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	if len(files) < 2 {
		t.Fatalf("database files = %v, want the database and its WAL at least", files)
	}

	// The attacker's copy: every database file, not the key file.
	var blobs [][]byte
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if bytes.Contains(b, root) {
			t.Errorf("%s contains the root secret", filepath.Base(f))
		}
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{`SELECT value FROM secrets`, `SELECT sealed FROM signing_keys WHERE sealed IS NOT NULL`} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for rows.Next() {
			var b []byte
			rows.Scan(&b)
			blobs = append(blobs, b)
		}
		rows.Close()
	}
	if len(blobs) == 0 {
		t.Fatal("the copy holds no sealed key at all; the test would prove nothing")
	}
	for _, b := range blobs {
		iss, err := token.NewIssuer(b, time.Hour, 0)
		if err != nil {
			continue
		}
		forged, _ := iss.Issue(claims)
		if _, err := a.svc.Authenticate(context.Background(), forged); err == nil {
			t.Errorf("a token signed with a %d-byte value from the database copy authenticates", len(b))
		}
	}
}

// TestKeysAddImportsMaterial: an HS256 key kept elsewhere (shared with a
// service that verifies tokens) joins the ring, and once active a token
// signed with those exact bytes is what the nodes issue and accept.
func TestKeysAddImportsMaterial(t *testing.T) {
	c := newCLI(t)
	shared := []byte("secret-shared-with-a-rails-service!")
	file := filepath.Join(t.TempDir(), "shared.key")
	if err := os.WriteFile(file, shared, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.run("keys", "add", "--material-file", file, "--alg", "EdDSA"); err == nil {
		t.Error("keys add --alg EdDSA with a 35-byte file = nil error, want refused (a seed is 32 bytes)")
	}
	out := c.mustRun("keys", "add", "--material-file", file)
	id := strings.TrimSuffix(strings.Fields(out)[3], ";")
	c.mustRun("keys", "activate", id, "--force")

	a := c.app()
	srv := httptest.NewServer(a.handler)
	defer srv.Close()
	access, _ := register(t, srv.URL, "ada@example.com")
	iss, err := token.NewIssuer(shared, time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iss.Verify(access, time.Now()); err != nil {
		t.Errorf("the shared key verifies a token the node issued: %v, want nil", err)
	}
}
