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

// TestGoTrueAPI: with --api gotrue the bench readies and loads a server
// through GoTrue's endpoints, every request answered as it expects.
func TestGoTrueAPI(t *testing.T) {
	fake := &goTrue{refresh: map[string]bool{}, access: map[string]bool{}, calls: map[string]int{}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	cfg := &Config{
		URL: srv.URL, API: "gotrue", Levels: []int{1, 2}, Duration: 100 * time.Millisecond,
		Scenarios: map[string]bool{"register": true, "sign_in": true, "me": true, "refresh": true, "sign_out": true},
		HashSlots: 2, JSONPath: t.TempDir() + "/r.json",
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
	if len(rep.Rows) != 5*2 {
		t.Errorf("%d rows, want 10 (5 scenarios at 2 levels)", len(rep.Rows))
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
	for _, call := range []string{"POST /signup", "POST /token?password", "POST /token?refresh_token", "GET /user", "POST /logout"} {
		if fake.calls[call] == 0 {
			t.Errorf("no %s: calls %v", call, fake.calls)
		}
	}
	if len(fake.calls) != 5 {
		t.Errorf("calls %v, want only GoTrue's five", fake.calls)
	}
	if !strings.Contains(rep.Target, "gotrue") {
		t.Errorf("report target %q does not name the API", rep.Target)
	}
}
