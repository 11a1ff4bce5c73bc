package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/gatehouse/gatehouse/internal/browsertest"
)

// browserAccessTTL is the access-token lifetime of the browser test's
// server: short, so that the page meets an expired token, and not shorter,
// because exp is whole seconds (a token lives between TTL−1 s and TTL) and
// the page must finish a refresh and its retry within that.
const browserAccessTTL = 3 * time.Second

// pageReply is what the example page's show() returns for one call.
type pageReply struct {
	Status    int             `json:"status"`
	Body      json.RawMessage `json:"body"`
	Expired   bool            `json:"expired"`   // the first answer was 401 token_expired
	Refreshed bool            `json:"refreshed"` // and the page refreshed and repeated the call
}

func (r pageReply) code() string {
	var e struct{ Code string }
	json.Unmarshal(r.Body, &e)
	return e.Code
}

func (r pageReply) String() string {
	return fmt.Sprintf("%d %s (expired %t, refreshed %t)", r.Status, r.Body, r.Expired, r.Refreshed)
}

// step runs one of the page's calls through its show(), which also writes
// the answer on the page, and saves a screenshot of the page with it.
func step(b *browsertest.Browser, name, call string) pageReply {
	r := browsertest.Eval[pageReply](b, fmt.Sprintf("show(%q, %s)", name, call))
	b.Screenshot(name)
	return r
}

// TestBrowserSPA runs the seed's single-page-app flow in Chromium against
// the real server: the example page (examples/spa, also the docs'
// example) is served from one origin and calls Gatehouse, on another,
// with fetch(…, {credentials: "include"}). It proves what only a browser
// decides: that the CORS answers let the page read the replies, that the
// cookie is stored and sent back (and hidden from the script), and that
// the page's CSRF handling, refresh on 401 and sign-out work as the docs say.
func TestBrowserSPA(t *testing.T) {
	b := browsertest.New(t)
	page := browsertest.ServeFiles(t, "../../examples/spa")
	api, logs := startBrowserServer(t, "--cors-origins", page, "--access-ttl", browserAccessTTL.String())
	b.Navigate(page + "/?api=" + url.QueryEscape(api))

	const email, password = "ada@example.com", "correct horse battery"
	r := step(b, "register", fmt.Sprintf("gatehouse.register(%q, %q)", email, password))
	var reg struct{ CSRF string }
	if json.Unmarshal(r.Body, &reg); r.Status != http.StatusCreated || len(reg.CSRF) != 88 {
		t.Fatalf("register: got %v, want 201 with an 88-character csrf", r)
	}
	cookie := b.Cookie(api, "jwt_access")
	if cookie == nil || !cookie.HTTPOnly || cookie.Secure || cookie.SameSite != network.CookieSameSiteLax {
		t.Fatalf("after register, the browser's jwt_access cookie for %s: got %+v, want HttpOnly, SameSite=Lax, not Secure", api, cookie)
	}
	if seen := browsertest.Eval[string](b, "document.cookie"); strings.Contains(seen, "jwt_access") {
		t.Errorf("document.cookie = %q: the page's script can read the access cookie", seen)
	}

	r = step(b, "me", "gatehouse.me()")
	var me struct{ Email string }
	if json.Unmarshal(r.Body, &me); r.Status != http.StatusOK || me.Email != email {
		t.Errorf("me after register: got %v, want 200 with email %s", r, email)
	}

	// A second session of the same user, from outside the browser, for the
	// unsafe request to end.
	other := signInTokens(t, api, email, password)

	r = step(b, "sign-out-others-without-csrf",
		`(async () => { const kept = csrf; csrf = ""; try { return await gatehouse.signOutOthers(); } finally { csrf = kept; } })()`)
	if r.Status != http.StatusUnauthorized || r.code() != "csrf_invalid" {
		t.Errorf("DELETE /v1/auth/sessions?scope=others without X-CSRF-Token: got %v, want 401 csrf_invalid", r)
	}
	if status := meStatus(t, api, other); status != http.StatusOK {
		t.Fatalf("the other session after a refused sign-out of others: got %d, want 200", status)
	}
	r = step(b, "sign-out-others", "gatehouse.signOutOthers()")
	if r.Status != http.StatusOK || string(r.Body) != `"ok"` {
		t.Errorf("DELETE /v1/auth/sessions?scope=others with X-CSRF-Token: got %v, want 200 \"ok\"", r)
	}
	if status := meStatus(t, api, other); status != http.StatusUnauthorized {
		t.Errorf("the other session after the page signed out the others: got %d, want 401", status)
	}

	// Past the access token's exp (whole seconds, at most the TTL after
	// it was issued) the page must meet 401 token_expired, refresh with
	// the cookie and its CSRF token, and repeat the call.
	time.Sleep(browserAccessTTL + 100*time.Millisecond)
	r = step(b, "me-after-expiry", "gatehouse.me()")
	if r.Status != http.StatusOK || !r.Expired || !r.Refreshed {
		t.Errorf("me after the access token expired: got %v, want 401 token_expired, a refresh, then 200", r)
	}

	cookie = b.Cookie(api, "jwt_access")
	if cookie == nil {
		t.Fatal("before sign-out: the browser holds no jwt_access cookie")
	}
	r = step(b, "sign-out", "gatehouse.signOut()")
	if r.Status != http.StatusOK {
		t.Errorf("sign-out: got %v, want 200", r)
	}
	r = step(b, "me-after-sign-out", "gatehouse.me()")
	if r.Status != http.StatusUnauthorized || r.Expired {
		t.Errorf("me after sign-out: got %v, want 401 without a refresh", r)
	}
	if c := b.Cookie(api, "jwt_access"); c != nil {
		t.Errorf("after sign-out the browser still holds jwt_access (expires %v)", c.Expires)
	}
	// The browser dropping its cookie is not the point: the session must be
	// dead on the server. Its last access token no longer refreshes.
	if status, code := refreshWith(t, api, cookie.Value); status != http.StatusUnauthorized || code != "not_authorized" {
		t.Errorf("refresh with the signed-out session's access token: got %d %s, want 401 not_authorized", status, code)
	}

	// The same page from an origin that is not in --cors-origins: the
	// preflight is refused, so the browser does not even send the request
	// (fetch rejects), and the server says which origin it refused.
	stranger := strings.Replace(page, "localhost", "127.0.0.1", 1)
	b.Navigate(stranger + "/?api=" + url.QueryEscape(api))
	r = step(b, "register-from-unlisted-origin", fmt.Sprintf("gatehouse.register(%q, %q)", "eve@example.com", password))
	if r.Status != 0 {
		t.Errorf("register from %s, not in --cors-origins: got %v, want a failed fetch", stranger, r)
	}
	if !strings.Contains(logs.String(), `"origin":"`+stranger+`"`) {
		t.Errorf("the server did not log the refused origin %s", stranger)
	}
}

// startBrowserServer runs the real server for a browser test on SQLite
// with plain-HTTP cookies and flags, and returns its URL with the host
// localhost (see browsertest.ServeFiles) and its log.
func startBrowserServer(t *testing.T, flags ...string) (string, *lockedBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr lockedBuffer
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--db", "sqlite:" + filepath.Join(t.TempDir(), "g.db"),
		"--cookie-secure=false"}, flags...)
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, noEnv, noStdin, &stdout, &stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("server did not stop within 20s")
		}
		if t.Failed() {
			logs := stderr.String()
			t.Logf("server log (last 6000 bytes):\n%s", logs[max(0, len(logs)-6000):])
		}
	})
	return browsertest.Localhost(t, waitForURL(t, &stdout)), &stderr
}

// signInTokens signs in with the token transport, as a script would, and
// returns the access token.
func signInTokens(t *testing.T, api, email, password string) string {
	t.Helper()
	status, body := call(t, http.MethodPost, api+"/v1/auth/sign_in", "",
		fmt.Sprintf(`{"email":%q,"password":%q}`, email, password))
	access, _ := body["access"].(string)
	if status != http.StatusOK || access == "" {
		t.Fatalf("sign in %s with token transport: got %d %v, want 200 with an access token", email, status, body)
	}
	return access
}

func meStatus(t *testing.T, api, access string) int {
	t.Helper()
	status, _ := call(t, http.MethodGet, api+"/v1/auth/me", access, "")
	return status
}

func refreshWith(t *testing.T, api, access string) (int, string) {
	t.Helper()
	status, body := call(t, http.MethodPost, api+"/v1/auth/refresh", access, "")
	code, _ := body["code"].(string)
	return status, code
}

var (
	jsBlock     = regexp.MustCompile("(?s)\n```js\n(.*?)```")
	nextHeading = regexp.MustCompile("\n#{2,3} ")
)

// TestSPAGuideMatchesExample keeps docs/api.md's guides for single-page
// apps honest: every js block of them must appear, verbatim, in the example
// page that the browser tests run in Chromium.
func TestSPAGuideMatchesExample(t *testing.T) {
	raw, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile("../../examples/spa/index.html")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	for _, heading := range []string{"### A single-page app on another origin", "### Add passkeys to your app in 30 lines"} {
		_, section, ok := strings.Cut(doc, "\n"+heading+"\n")
		if !ok {
			t.Errorf("docs/api.md: no section %q", heading)
			continue
		}
		if end := nextHeading.FindStringIndex(section); end != nil {
			section = section[:end[0]]
		}
		blocks := jsBlock.FindAllStringSubmatch(section, -1)
		if len(blocks) == 0 {
			t.Errorf("docs/api.md, %q: no js block", heading)
		}
		for _, b := range blocks {
			if !strings.Contains(string(page), b[1]) {
				t.Errorf("docs/api.md, %q: this block is not in examples/spa/index.html:\n%s", heading, b[1])
			}
		}
	}
}
