package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/csrf"
)

// session is what a client holds after signing in: the access token (from
// the cookie, or from the body in token transport), the CSRF token of the
// last response, and in token transport the refresh token.
type session struct {
	access  string
	csrf    string
	refresh string
}

// viaCookie is a request as a browser sends it: the access cookie plus the
// X-CSRF-Token header.
func (s session) viaCookie(method, path string) request {
	return request{method: method, path: path, cookie: s.access, header: map[string]string{"X-CSRF-Token": s.csrf}}
}

// viaHeader is a request as a script sends it: Authorization: Bearer.
func (s session) viaHeader(method, path string) request {
	return request{method: method, path: path, header: map[string]string{"Authorization": "Bearer " + s.access}}
}

// tokenTransport asks for the tokens in the body instead of a cookie.
var tokenTransport = map[string]string{"X-Auth-Transport": "token"}

func registration(email, pw, confirmation string) string {
	return jsonObject("email", email, "password", pw, "password_confirmation", confirmation)
}

func credentials(email, pw string) string {
	return jsonObject("email", email, "password", pw)
}

// jsonObject encodes key, value pairs as a JSON object, in order.
func jsonObject(kv ...string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(kv[i])
		v, _ := json.Marshal(kv[i+1])
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.String()
}

func (ts *testServer) register(t *testing.T, email, pw string) session {
	t.Helper()
	return grantOf(t, ts.do(t, request{method: "POST", path: "/v1/auth", body: registration(email, pw, pw)}), http.StatusCreated)
}

func (ts *testServer) signIn(t *testing.T, email, pw string) session {
	t.Helper()
	return grantOf(t, ts.do(t, request{method: "POST", path: "/v1/auth/sign_in", body: credentials(email, pw)}), http.StatusOK)
}

func (ts *testServer) signInTokens(t *testing.T, email, pw string) session {
	t.Helper()
	return tokensOf(t, ts.do(t, request{method: "POST", path: "/v1/auth/sign_in", header: tokenTransport, body: credentials(email, pw)}), http.StatusOK)
}

var maskedCSRF = regexp.MustCompile(`^[A-Za-z0-9+/]{86}==$`)

// grantOf checks a cookie-transport grant (status, body exactly {"csrf"},
// a masked CSRF token, a jwt_access cookie) and returns its session.
func grantOf(t *testing.T, resp response, status int) session {
	t.Helper()
	if resp.status != status {
		t.Fatalf("%s: got status %d, want %d; body %s", resp.call, resp.status, status, resp.body)
	}
	body := decode[map[string]any](t, resp)
	if keys := sortedKeys(body); !slices.Equal(keys, []string{"csrf"}) {
		t.Errorf("%s: got body keys %q, want [csrf]", resp.call, keys)
	}
	tok, _ := body["csrf"].(string)
	checkMaskedCSRF(t, resp.call, tok)
	c, ok := resp.cookie()
	if !ok || c.Value == "" {
		t.Fatalf("%s: got Set-Cookie %q, want a jwt_access cookie", resp.call, resp.header.Values("Set-Cookie"))
	}
	return session{access: c.Value, csrf: tok}
}

// tokensOf checks a token-transport grant (no cookie, body exactly the
// gem's login result) and returns its session.
func tokensOf(t *testing.T, resp response, status int) session {
	t.Helper()
	if resp.status != status {
		t.Fatalf("%s: got status %d, want %d; body %s", resp.call, resp.status, status, resp.body)
	}
	if sc := resp.header.Values("Set-Cookie"); len(sc) != 0 {
		t.Errorf("%s: got Set-Cookie %q, want none in token transport", resp.call, sc)
	}
	body := decode[map[string]any](t, resp)
	want := []string{"access", "access_expires_at", "csrf", "refresh", "refresh_expires_at"}
	if keys := sortedKeys(body); !slices.Equal(keys, want) {
		t.Errorf("%s: got body keys %q, want %q", resp.call, keys, want)
	}
	s := session{}
	s.access, _ = body["access"].(string)
	s.csrf, _ = body["csrf"].(string)
	s.refresh, _ = body["refresh"].(string)
	checkMaskedCSRF(t, resp.call, s.csrf)
	if s.access == "" || s.refresh == "" {
		t.Errorf("%s: got access %q and refresh %q, want both", resp.call, s.access, s.refresh)
	}
	return s
}

func checkMaskedCSRF(t *testing.T, call, tok string) {
	t.Helper()
	raw, err := base64.StdEncoding.Strict().DecodeString(tok)
	if !maskedCSRF.MatchString(tok) || err != nil || len(raw) != 64 {
		t.Errorf("%s: got csrf %q (%d bytes decoded, err %v), want 88 base64 characters of 64 bytes", call, tok, len(raw), err)
	}
}

// csrfSecret unmasks a CSRF token: two maskings of one secret differ as
// strings but not here.
func csrfSecret(t *testing.T, tok string) string {
	t.Helper()
	secret := unmasked(tok)
	if secret == "" {
		t.Fatalf("csrf.Unmask(%q): not a CSRF token", tok)
	}
	return secret
}

// unmasked is the 44-character form of a CSRF token that the gem also
// accepts; "" if tok is not a CSRF token.
func unmasked(tok string) string {
	secret, err := csrf.Unmask(tok)
	if err != nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(secret)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// claims are the access token's claims as a client can read them.
type claims struct {
	Exp    int64  `json:"exp"`
	UserID int64  `json:"user_id"`
	UID    string `json:"uid"`
	RUID   string `json:"ruid"`
}

// claimsOf reads the payload of a JWT without checking its signature.
func claimsOf(t *testing.T, jwt string) claims {
	t.Helper()
	c, err := parseClaims(jwt)
	if err != nil {
		t.Fatalf("access token %q: %v", jwt, err)
	}
	return c
}

func parseClaims(jwt string) (claims, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return claims{}, fmt.Errorf("got %d segments, want 3", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return claims{}, fmt.Errorf("payload: %v", err)
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return claims{}, fmt.Errorf("payload %s: %v", payload, err)
	}
	return c, nil
}

type meBody struct {
	ID              int64    `json:"id"`
	Email           string   `json:"email"`
	CreatedAt       string   `json:"created_at"`
	Methods         []string `json:"methods"`
	AAL             int      `json:"aal"`
	AuthenticatedAt string   `json:"authenticated_at"`
}

// status performs req and returns just its status, for probes whose body
// does not matter.
func (ts *testServer) status(t *testing.T, req request) int {
	t.Helper()
	return ts.do(t, req).status
}

// wantStatus checks the status of each call in order.
func (ts *testServer) wantStatus(t *testing.T, want int, reqs ...request) {
	t.Helper()
	for _, req := range reqs {
		if resp := ts.do(t, req); resp.status != want {
			t.Errorf("%s: got status %d, want %d; body %s", resp.call, resp.status, want, resp.body)
		}
	}
}

// csrfProbe is a cookie request that changes nothing: DELETE
// /v1/auth/sessions without a scope is a 400 once authentication and the
// CSRF check have passed, and a 401 before.
func csrfProbe(s session) request { return s.viaCookie("DELETE", "/v1/auth/sessions") }
