package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// goTrue answers the five requests the bench makes of Supabase Auth
// (GoTrue) the way its API documents them, strictly: a wrong method,
// path, body or token is a 400 or 401, which the bench counts as an
// error. Refresh tokens rotate and are single-use, as GoTrue's are.
type goTrue struct {
	mu      sync.Mutex
	seq     int
	refresh map[string]bool // unused refresh tokens
	access  map[string]bool // live access tokens
	calls   map[string]int  // by "METHOD path?grant_type"
}

func (g *goTrue) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	key := r.Method + " " + r.URL.Path
	if gt := r.URL.Query().Get("grant_type"); gt != "" {
		key += "?" + gt
	}
	g.calls[key]++
	var body map[string]string
	if r.Method == http.MethodPost && r.URL.Path != "/logout" {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
	}
	bearer := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	switch key {
	case "POST /signup", "POST /token?password":
		if body["email"] == "" || body["password"] != benchPassword {
			http.Error(w, "invalid login", http.StatusBadRequest)
			return
		}
		g.session(w)
	case "POST /token?refresh_token":
		if !g.refresh[body["refresh_token"]] {
			http.Error(w, "invalid refresh token", http.StatusBadRequest)
			return
		}
		delete(g.refresh, body["refresh_token"])
		g.session(w)
	case "GET /user":
		if !g.access[bearer] {
			http.Error(w, "invalid JWT", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `{"id":"00000000-0000-0000-0000-000000000001","email":"user@bench.example.com"}`)
	case "POST /logout":
		if !g.access[bearer] {
			http.Error(w, "invalid JWT", http.StatusUnauthorized)
			return
		}
		delete(g.access, bearer)
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}

// session issues a new pair of tokens, as GoTrue's session body has them.
func (g *goTrue) session(w http.ResponseWriter) {
	g.seq++
	a, r := fmt.Sprintf("access-%d", g.seq), fmt.Sprintf("refresh-%d", g.seq)
	g.access[a], g.refresh[r] = true, true
	fmt.Fprintf(w, `{"access_token":%q,"token_type":"bearer","expires_in":3600,"refresh_token":%q,"user":{}}`, a, r)
}

// kratos answers the requests the bench makes of Ory Kratos' API flows
// the way its API documents them, strictly: a flow is created, then
// submitted once; a wrong method, path, body or token is a 400 or 401.
type kratos struct {
	mu      sync.Mutex
	seq     int
	flows   map[string]string // unsubmitted flow id → its kind
	session map[string]bool   // live session tokens
	calls   map[string]int    // by "METHOD path"
}

func (k *kratos) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	defer k.mu.Unlock()
	key := r.Method + " " + r.URL.Path
	k.calls[key]++
	var body struct {
		Method, Identifier, Password string
		SessionToken                 string `json:"session_token"`
		Traits                       struct{ Email string }
	}
	if r.Method != http.MethodGet {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
	}
	switch key {
	case "GET /self-service/login/api", "GET /self-service/registration/api":
		k.seq++
		id := fmt.Sprintf("flow-%d", k.seq)
		k.flows[id] = strings.Split(r.URL.Path, "/")[2]
		fmt.Fprintf(w, `{"id":%q,"type":"api"}`, id)
	case "POST /self-service/login", "POST /self-service/registration":
		flow := r.URL.Query().Get("flow")
		email := body.Traits.Email
		if strings.HasSuffix(key, "login") {
			email = body.Identifier
		}
		if k.flows[flow] != strings.Split(r.URL.Path, "/")[2] || body.Method != "password" || email == "" || body.Password != benchPassword {
			http.Error(w, "invalid flow or credentials", http.StatusBadRequest)
			return
		}
		delete(k.flows, flow)
		k.seq++
		tok := fmt.Sprintf("ory_st_%d", k.seq)
		k.session[tok] = true
		fmt.Fprintf(w, `{"session_token":%q,"session":{"active":true}}`, tok)
	case "GET /sessions/whoami":
		if !k.session[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")] {
			http.Error(w, "no session", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `{"active":true}`)
	case "DELETE /self-service/logout/api":
		if !k.session[body.SessionToken] {
			http.Error(w, "no session", http.StatusForbidden)
			return
		}
		delete(k.session, body.SessionToken)
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}

// TestGoTrueAPI: with --api gotrue the bench readies and loads a server
// through GoTrue's endpoints, every request answered as it expects.
func TestGoTrueAPI(t *testing.T) {
	fake := &goTrue{refresh: map[string]bool{}, access: map[string]bool{}, calls: map[string]int{}}
	runPeer(t, "gotrue", fake)
	checkCalls(t, fake.calls, "POST /signup", "POST /token?password", "POST /token?refresh_token", "GET /user", "POST /logout")
}

// TestKratosAPI: the same with --api kratos, through Kratos' API flows.
func TestKratosAPI(t *testing.T) {
	fake := &kratos{flows: map[string]string{}, session: map[string]bool{}, calls: map[string]int{}}
	runPeer(t, "kratos", fake)
	checkCalls(t, fake.calls, "GET /self-service/registration/api", "POST /self-service/registration",
		"GET /self-service/login/api", "POST /self-service/login", "GET /sessions/whoami", "DELETE /self-service/logout/api")
}

// runPeer runs every scenario the peer API has a counterpart for, besides
// the in-process baselines, at two levels against h, and checks the report:
// a row for each, requests in each (sign_out in at least one), no errors.
func runPeer(t *testing.T, apiName string, h http.Handler) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	scenarios := map[string]bool{}
	for _, sc := range PeerScenarios[apiName] {
		if sc != "baseline" && sc != "argon2" {
			scenarios[sc] = true
		}
	}
	cfg := &Config{
		URL: srv.URL, API: apiName, Levels: []int{1, 2}, Duration: 100 * time.Millisecond,
		Scenarios: scenarios, HashSlots: 2, JSONPath: t.TempDir() + "/r.json",
	}
	var out strings.Builder
	defer func() {
		if t.Failed() {
			t.Log(out.String())
		}
	}()
	if err := Run(context.Background(), cfg, Binary{}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(cfg.JSONPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != len(scenarios)*2 {
		t.Errorf("%d rows, want %d (%d scenarios at 2 levels)", len(rep.Rows), len(scenarios)*2, len(scenarios))
	}
	signedOut := int64(0)
	for _, row := range rep.Rows {
		// Over HTTP, sign_out gets the sessions made within its cells'
		// time, in level order: a later level may get none.
		if row.Scenario == "sign_out" {
			signedOut += row.Result.Requests
		} else if row.Result.Requests == 0 {
			t.Errorf("%s c=%d: no requests", row.Scenario, row.Concurrency)
		}
		if row.Result.Errors != 0 {
			t.Errorf("%s c=%d: %d errors, want none", row.Scenario, row.Concurrency, row.Result.Errors)
		}
	}
	if signedOut == 0 {
		t.Error("sign_out made no requests")
	}
	if !strings.Contains(rep.Target, apiName) {
		t.Errorf("report target %q does not name the API", rep.Target)
	}
}

// checkCalls: the fake saw each of want, and nothing else.
func checkCalls(t *testing.T, calls map[string]int, want ...string) {
	t.Helper()
	for _, call := range want {
		if calls[call] == 0 {
			t.Errorf("no %s: calls %v", call, calls)
		}
	}
	if len(calls) != len(want) {
		t.Errorf("calls %v, want only %v", calls, want)
	}
}
