package httpapi_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The seed's requests (seed/auth-api.apib), as its clients send them.
const (
	seedEmail    = "chelsey@prohaska.name"
	seedPassword = "6JzwdrAeiTeDrL"
	// seedToken is the seed's Authorization header: an access token of
	// the Rails API, long expired and signed with another key.
	seedToken = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE2MDQ1OTYzNjEsInVzZXJfaWQiOjM4NSwidWlkIjoiYzhlZGI4N2MtYzExNC00Mjg0LWFkOGQtN2Q3YjYxOTEzMGQyIiwicnVpZCI6IjdjNWUxNTBiLTY0NDUtNDk1ZS1iZDg5LWQ0ZDQ0MmZmODEzYSJ9.gDMlJC4viWI-2BxmklNe8E5992BdbDccwePtwTS9tU0"
)

var seedHeaders = map[string]string{"Accept": "application/json", "Content-Type": "application/json"}

func withHeaders(base map[string]string, kv ...string) map[string]string {
	h := make(map[string]string, len(base)+len(kv)/2)
	for k, v := range base {
		h[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		h[kv[i]] = kv[i+1]
	}
	return h
}

var csrfBody = regexp.MustCompile(`^\{"csrf":"[A-Za-z0-9+/]{86}=="\}$`)

// wantSeedGrant checks a response against the seed's register and sign-in
// answers: the status, the body exactly {"csrf":"<88 characters>"}, and
// the gem's cookie, which lives as long as the session.
func wantSeedGrant(t *testing.T, resp response, status int) session {
	t.Helper()
	s := grantOf(t, resp, status)
	if !csrfBody.MatchString(resp.body) {
		t.Errorf("%s: got body %s, want exactly {\"csrf\":\"<88 characters>\"}", resp.call, resp.body)
	}
	want := fmt.Sprintf("jwt_access=%s; Path=/; Max-Age=%d; HttpOnly; Secure; SameSite=Lax", s.access, int(sessionTTL/time.Second))
	if got := resp.setCookie(); got != want {
		t.Errorf("%s: got Set-Cookie %q, want %q", resp.call, got, want)
	}
	return s
}

func TestSeed_Register(t *testing.T) {
	t.Parallel()
	ts := newServer(t, serverOptions{})
	resp := ts.do(t, request{method: "POST", path: "/v1/auth", header: seedHeaders,
		body: `{"email": "chelsey@prohaska.name", "password": "6JzwdrAeiTeDrL", "password_confirmation": "6JzwdrAeiTeDrL"}`})
	s := wantSeedGrant(t, resp, http.StatusCreated)
	checkSeedAccessToken(t, resp.call, s.access, epoch)

	me := decode[meBody](t, ts.do(t, s.viaHeader("GET", "/v1/auth/me")))
	wantMe := meBody{ID: claimsOf(t, s.access).UserID, Email: seedEmail, CreatedAt: "2026-03-02T09:30:00Z",
		Methods: []string{"password"}, AAL: 1, AuthenticatedAt: "2026-03-02T09:30:00Z"}
	if diff := cmp.Diff(wantMe, me); diff != "" {
		t.Errorf("GET /v1/auth/me after register: body mismatch (-want +got):\n%s", diff)
	}
}

// checkSeedAccessToken checks an access token against the gem's format
// byte for byte: the header segment, and the claims exp, user_id, uid,
// ruid in that order with their JSON types.
func checkSeedAccessToken(t *testing.T, call, jwt string, issued time.Time) {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("%s: access token %q: got %d segments, want 3", call, jwt, len(parts))
	}
	if want := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256"}`)); parts[0] != want {
		t.Errorf("%s: got JWT header segment %q, want %q", call, parts[0], want)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("%s: JWT payload %q: %v", call, parts[1], err)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var got []string
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch v := tok.(type) {
		case json.Delim:
			got = append(got, v.String())
		case json.Number:
			if _, err := v.Int64(); err != nil {
				got = append(got, "number "+v.String())
			} else {
				got = append(got, "int")
			}
		case string:
			if uuidV4.MatchString(v) {
				got = append(got, "uuid")
			} else {
				got = append(got, fmt.Sprintf("%q", v))
			}
		default:
			got = append(got, fmt.Sprintf("%T", v))
		}
	}
	want := []string{"{", `"exp"`, "int", `"user_id"`, "int", `"uid"`, "uuid", `"ruid"`, "uuid", "}"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: JWT payload %s: shape mismatch (-want +got):\n%s", call, payload, diff)
	}
	c := claimsOf(t, jwt)
	if wantExp := issued.Add(accessTTL).Unix(); c.Exp != wantExp {
		t.Errorf("%s: got exp %d, want %d (issued + 1h)", call, c.Exp, wantExp)
	}
	if c.UserID <= 0 {
		t.Errorf("%s: got user_id %d, want a positive id", call, c.UserID)
	}
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestSeed_SignIn(t *testing.T) {
	t.Parallel()
	ts := newServer(t, serverOptions{})
	registered := ts.register(t, "ranae@barrows.ca", "2L2Ug5U4tqH")

	// The seed sends a stale token of another session along; sign-in
	// ignores it and starts a new session.
	resp := ts.do(t, request{method: "POST", path: "/v1/auth/sign_in",
		header: withHeaders(seedHeaders, "Authorization", seedToken),
		body:   `{"email": "ranae@barrows.ca", "password": "2L2Ug5U4tqH"}`})
	s := wantSeedGrant(t, resp, http.StatusOK)
	checkSeedAccessToken(t, resp.call, s.access, epoch)
	got, first := claimsOf(t, s.access), claimsOf(t, registered.access)
	if got.RUID == first.RUID || got.UserID != first.UserID {
		t.Errorf("%s: got ruid %s user_id %d, want a new session of user %d (registration's ruid %s)",
			resp.call, got.RUID, got.UserID, first.UserID, first.RUID)
	}
}

func TestSeed_SignOut(t *testing.T) {
	t.Parallel()
	ts := newServer(t, serverOptions{})
	ts.register(t, seedEmail, seedPassword)
	tests := []struct {
		name          string
		authorization func(access string) string
	}{
		{name: "bare_token", authorization: func(a string) string { return a }},
		{name: "bearer_token", authorization: func(a string) string { return "Bearer " + a }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := ts.signIn(t, seedEmail, seedPassword)
			resp := ts.do(t, request{method: "DELETE", path: "/v1/auth/sign_out",
				header: withHeaders(seedHeaders, "Authorization", tt.authorization(s.access))})
			wantBody(t, resp, http.StatusOK, `"ok"`)
			if got, want := resp.setCookie(), "jwt_access=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax"; got != want {
				t.Errorf("%s: got Set-Cookie %q, want %q", resp.call, got, want)
			}
		})
	}
}
