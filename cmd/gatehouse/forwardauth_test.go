package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/gatehouse/gatehouse/internal/authtest"
)

// nginxInstallHint is how to get an nginx with auth_request on Debian.
const nginxInstallHint = "apt-get install -y --no-install-recommends nginx"

// nginxExample is the documented configuration that the test runs.
const nginxExample = "../../docs/nginx/gatehouse.conf"

// TestNginxForwardAuth runs a real nginx on the documented example
// (docs/nginx/gatehouse.conf, only addresses, ports and certificate paths
// replaced) in front of a real gatehouse and a stand-in application, and
// checks what the example promises: sign-in through nginx, /app/ reached
// only with a live session (token or cookie), the user and session passed
// to the application in headers that a client cannot forge, the client's
// address passed to gatehouse, and nothing let through when gatehouse is
// down.
func TestNginxForwardAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx and a server process")
	}
	bin := nginxBinary(t)

	// nginx connects to gatehouse from 127.0.0.1; the test client comes
	// from 127.0.0.2, so the address gatehouse records proves that it read
	// X-Forwarded-For from a trusted proxy.
	t.Setenv("GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1/32")
	child, gatehouseURL, _ := startChild(t, "sqlite:"+filepath.Join(t.TempDir(), "g.db"))
	app := newForwardAuthApp(t)
	ngx := startNginx(t, bin, strings.TrimPrefix(gatehouseURL, "http://"), app.srv.Listener.Addr().String())
	c := ngx.client(t, "127.0.0.2")

	t.Run("plainHTTPRedirects", func(t *testing.T) {
		resp, _ := c.do(t, "GET", ngx.httpURL+"/app/hello", nil, "")
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusMovedPermanently || !strings.HasPrefix(loc, "https://") {
			t.Errorf("GET http://…/app/hello: got %d Location %q, want 301 to https://", resp.StatusCode, loc)
		}
	})

	t.Run("noTokenIs401", func(t *testing.T) {
		before := app.count()
		hdr := http.Header{"X-User-Id": {"999"}, "X-Session-Id": {"forged"}}
		if resp, body := c.do(t, "GET", ngx.url+"/app/hello", hdr, ""); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET /app/hello without a token, with X-User-Id: got %d %s, want 401", resp.StatusCode, body)
		}
		if n := app.count() - before; n != 0 {
			t.Errorf("application requests after a refused one: got %d, want 0", n)
		}
	})

	t.Run("verifyLocationIsInternal", func(t *testing.T) {
		if resp, body := c.do(t, "GET", ngx.url+"/_gatehouse_verify", nil, ""); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET /_gatehouse_verify from a client: got %d %s, want 404", resp.StatusCode, body)
		}
	})

	var access string // a live access token of the first user
	var userID, sessionID string
	t.Run("tokenTransport", func(t *testing.T) {
		hdr := http.Header{"X-Auth-Transport": {"token"}, "X-Forwarded-For": {"198.51.100.1"}}
		tok := c.register(t, "ada@example.com", hdr)["access"]
		access, _ = tok.(string)
		if access == "" {
			t.Fatalf("POST /v1/auth (token transport): no access token in %v", tok)
		}
		bearer := http.Header{"Authorization": {"Bearer " + access}}
		userID, sessionID = c.whoAmI(t, bearer)

		// A client-supplied X-Forwarded-For entry is not believed: the
		// session records the address nginx saw.
		if ip := c.currentSession(t, bearer)["ip"]; ip != "127.0.0.2" {
			t.Errorf("GET /v1/auth/sessions: current session's ip %v, want 127.0.0.2 (the client, from nginx's X-Forwarded-For)", ip)
		}

		for _, method := range []string{"GET", "POST"} {
			hdr := bearer.Clone()
			hdr.Set("X-User-Id", "999")
			hdr.Set("X-Session-Id", "forged")
			resp, body := c.do(t, method, ngx.url+"/app/hello", hdr, `{"x":1}`)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s /app/hello with a bearer token: got %d %s, want 200", method, resp.StatusCode, body)
			}
			app.checkSaw(t, body, method, userID, sessionID)
		}
	})

	t.Run("cookieTransport", func(t *testing.T) {
		resp, body := c.do(t, "POST", ngx.url+"/v1/auth", jsonHeader(nil), forwardAuthSignUp("grace@example.com"))
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST /v1/auth (cookie transport): got %d %s, want 201", resp.StatusCode, body)
		}
		var cookie *http.Cookie
		for _, ck := range resp.Cookies() {
			if ck.Name == "jwt_access" {
				cookie = ck
			}
		}
		if cookie == nil {
			t.Fatalf("POST /v1/auth (cookie transport): no jwt_access cookie in %q", resp.Header.Values("Set-Cookie"))
		}
		var grant struct{ CSRF string }
		if err := json.Unmarshal(body, &grant); err != nil || grant.CSRF == "" {
			t.Fatalf("POST /v1/auth (cookie transport): body %s: want {\"csrf\"} (%v)", body, err)
		}
		withCookie := http.Header{"Cookie": {cookie.Name + "=" + cookie.Value}}
		uid, sid := c.whoAmI(t, withCookie)
		if uid == userID {
			t.Fatalf("second user's id %s: want another than the first's", uid)
		}

		hdr := withCookie.Clone()
		hdr.Set("X-User-Id", userID) // another user's id: must not get through
		resp, body = c.do(t, "GET", ngx.url+"/app/hello", hdr, "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /app/hello with the cookie: got %d %s, want 200", resp.StatusCode, body)
		}
		app.checkSaw(t, body, "GET", uid, sid)

		out := withCookie.Clone()
		out.Set("X-CSRF-Token", grant.CSRF)
		if resp, body := c.do(t, "DELETE", ngx.url+"/v1/auth/sign_out", out, ""); resp.StatusCode != http.StatusOK {
			t.Fatalf("DELETE /v1/auth/sign_out with the cookie: got %d %s, want 200", resp.StatusCode, body)
		}
		if resp, body := c.do(t, "GET", ngx.url+"/app/hello", withCookie, ""); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET /app/hello with a signed-out cookie: got %d %s, want 401", resp.StatusCode, body)
		}
	})

	t.Run("signOutWithToken", func(t *testing.T) {
		if access == "" {
			t.Skip("tokenTransport failed")
		}
		bearer := http.Header{"Authorization": {"Bearer " + access}}
		if resp, body := c.do(t, "DELETE", ngx.url+"/v1/auth/sign_out", bearer, ""); resp.StatusCode != http.StatusOK {
			t.Fatalf("DELETE /v1/auth/sign_out: got %d %s, want 200", resp.StatusCode, body)
		}
		before := app.count()
		if resp, body := c.do(t, "GET", ngx.url+"/app/hello", bearer, ""); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET /app/hello with a signed-out token: got %d %s, want 401", resp.StatusCode, body)
		}
		if n := app.count() - before; n != 0 {
			t.Errorf("application requests after a refused one: got %d, want 0", n)
		}
	})

	// Gatehouse refuses a cross-site POST from a browser that sends Origin
	// but no Sec-Fetch-Site unless Origin matches Host: nginx must pass the
	// browser's Host on, port included.
	signIn := `{"email":"ada@example.com","password":"correct horse battery"}`
	t.Run("originMatchesForwardedHost", func(t *testing.T) {
		hdr := jsonHeader(http.Header{"Origin": {ngx.url}, "X-Auth-Transport": {"token"}})
		if resp, body := c.do(t, "POST", ngx.url+"/v1/auth/sign_in", hdr, signIn); resp.StatusCode != http.StatusOK {
			t.Errorf("POST /v1/auth/sign_in with Origin %s: got %d %s, want 200", ngx.url, resp.StatusCode, body)
		}
		hdr.Set("Origin", "https://evil.example")
		if resp, body := c.do(t, "POST", ngx.url+"/v1/auth/sign_in", hdr, signIn); resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST /v1/auth/sign_in with Origin https://evil.example: got %d %s, want 403", resp.StatusCode, body)
		}
	})

	t.Run("gatehouseDownLetsNothingThrough", func(t *testing.T) {
		tok, _ := c.signIn(t, signIn)["access"].(string)
		bearer := http.Header{"Authorization": {"Bearer " + tok}}
		if resp, body := c.do(t, "GET", ngx.url+"/app/hello", bearer, ""); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /app/hello with a fresh token: got %d %s, want 200", resp.StatusCode, body)
		}
		child.Process.Kill()
		child.Wait()
		before := app.count()
		// auth_request answers 500 when the subrequest fails.
		if resp, body := c.do(t, "GET", ngx.url+"/app/hello", bearer, ""); resp.StatusCode != http.StatusInternalServerError {
			t.Errorf("GET /app/hello with gatehouse down: got %d %s, want 500", resp.StatusCode, body)
		}
		if n := app.count() - before; n != 0 {
			t.Errorf("application requests with gatehouse down: got %d, want 0", n)
		}
	})
}

// nginxBinary finds nginx with the auth_request module, or skips the test
// (fails it in CI, where it must run).
func nginxBinary(t *testing.T) string {
	t.Helper()
	missing := func(why string) {
		t.Helper()
		if os.Getenv("CI") != "" {
			t.Fatalf("%s, and CI is set (%s)", why, nginxInstallHint)
		}
		t.Skipf("%s (%s)", why, nginxInstallHint)
	}
	bin, err := exec.LookPath("nginx")
	if err != nil {
		bin = "/usr/sbin/nginx" // not on a non-root user's PATH on Debian
		if _, err := os.Stat(bin); err != nil {
			missing("nginx not installed")
		}
	}
	out, err := exec.Command(bin, "-V").CombinedOutput()
	if err != nil {
		t.Fatalf("%s -V: %v\n%s", bin, err, out)
	}
	if !bytes.Contains(out, []byte("with-http_auth_request_module")) {
		missing(bin + " lacks the http_auth_request module")
	}
	return bin
}

// nginxMainConf wraps the example in what a distribution's nginx.conf
// provides, with every path inside the test's directory so that nginx runs
// without root and without touching /var.
const nginxMainConf = `{{if .Root}}# Root's workers would run as nobody, who cannot enter the test's directory.
user root;
{{end}}worker_processes 1;
events { worker_connections 64; }
http {
    access_log {{.Dir}}/access.log;
    client_body_temp_path {{.Dir}}/client_body;
    proxy_temp_path {{.Dir}}/proxy;
    fastcgi_temp_path {{.Dir}}/fastcgi;
    uwsgi_temp_path {{.Dir}}/uwsgi;
    scgi_temp_path {{.Dir}}/scgi;
    include {{.Dir}}/gatehouse.conf;
}
`

// nginxExampleConf is the documented example with its addresses, ports and
// certificate paths replaced. Each must occur exactly once, so that an edit
// of the example that the test no longer understands fails here instead of
// testing something else.
func nginxExampleConf(t *testing.T, replace map[string]string) string {
	t.Helper()
	b, err := os.ReadFile(nginxExample)
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	for old, repl := range replace {
		if n := strings.Count(conf, old); n != 1 {
			t.Fatalf("%s: %q occurs %d times, want once (update the test's replacements)", nginxExample, old, n)
		}
		conf = strings.Replace(conf, old, repl, 1)
	}
	return conf
}

// nginxServer is a running nginx.
type nginxServer struct {
	url     string // https://127.0.0.1:PORT
	httpURL string // http://127.0.0.1:PORT
	roots   *x509.CertPool
}

// startNginx runs nginx in the foreground on the example, proxying to
// gatehouse and app (host:port), and stops it when the test ends.
func startNginx(t *testing.T, bin, gatehouse, app string) *nginxServer {
	t.Helper()
	dir := t.TempDir()
	ports := nginxFreePorts(t, 2)
	httpPort, httpsPort := ports[0], ports[1]
	certFile, keyFile, roots := nginxCertificate(t, dir)
	conf := nginxExampleConf(t, map[string]string{
		"server 127.0.0.1:3000;":                "server " + gatehouse + ";",
		"server 127.0.0.1:8080;":                "server " + app + ";",
		"listen 80;":                            "listen 127.0.0.1:" + httpPort + ";",
		"listen 443 ssl;":                       "listen 127.0.0.1:" + httpsPort + " ssl;",
		"/etc/ssl/certs/app.example.com.pem;":   certFile + ";",
		"/etc/ssl/private/app.example.com.key;": keyFile + ";",
	})
	if err := os.WriteFile(filepath.Join(dir, "gatehouse.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	var wrapper bytes.Buffer
	tmpl := template.Must(template.New("nginx.conf").Parse(nginxMainConf))
	if err := tmpl.Execute(&wrapper, map[string]any{"Dir": dir, "Root": os.Geteuid() == 0}); err != nil {
		t.Fatal(err)
	}
	mainConf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(mainConf, wrapper.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	// -e stderr: nginx opens its compiled-in error log before reading the
	// configuration; /var/log/nginx is not writable without root.
	cmd := exec.Command(bin, "-p", dir, "-e", "stderr", "-c", mainConf,
		"-g", "daemon off; pid "+filepath.Join(dir, "nginx.pid")+"; error_log stderr;")
	var stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	// Its own process group, so that the workers can be killed with the
	// master if it does not stop.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGQUIT) // graceful: finish requests, then exit
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			access, _ := os.ReadFile(filepath.Join(dir, "access.log"))
			t.Logf("nginx output:\n%s\nnginx access log:\n%s", stderr.String(), access)
		}
	})

	n := &nginxServer{url: "https://127.0.0.1:" + httpsPort, httpURL: "http://127.0.0.1:" + httpPort, roots: roots}
	// Up when it answers a request for the application (401: nobody is
	// signed in), which also proves it reaches gatehouse.
	probe := n.client(t, "")
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("nginx exited at start: %v\n%s", cmd.ProcessState, stderr.String())
		default:
		}
		var last string
		resp, err := probe.http.Get(n.url + "/app/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return n
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not answer GET /app/ with 401 within 10s (last: %s)\n%s", last, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// nginxFreePorts returns n distinct ports that were free a moment ago on
// 127.0.0.1 (all held at once while picking, so none comes twice).
func nginxFreePorts(t *testing.T, n int) []string {
	t.Helper()
	var ports []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ports = append(ports, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	}
	return ports
}

// nginxCertificate writes a self-signed certificate for 127.0.0.1 into dir.
func nginxCertificate(t *testing.T, dir string) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	cert, key := authtest.SelfSignedCert(t, "gatehouse nginx test")
	der := cert.Raw
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	return certFile, keyFile, roots
}

// forwardAuthClient talks to nginx as a client would, from a given local
// address, following no redirects and keeping no cookies (the test sends
// them itself).
type forwardAuthClient struct {
	http *http.Client
	base string
}

func (n *nginxServer) client(t *testing.T, localIP string) *forwardAuthClient {
	t.Helper()
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	if localIP != "" {
		dialer.LocalAddr = &net.TCPAddr{IP: net.ParseIP(localIP)}
	}
	tr := &http.Transport{
		DialContext:     dialer.DialContext,
		TLSClientConfig: &tls.Config{RootCAs: n.roots},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &forwardAuthClient{
		base: n.url,
		http: &http.Client{
			Transport:     tr,
			Timeout:       15 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// do sends one request and returns the response (body read and closed) and
// its body.
func (c *forwardAuthClient) do(t *testing.T, method, url string, hdr http.Header, body string) (*http.Response, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	return resp, b
}

// doJSON is do for an answer that must be wantStatus with a JSON body.
func (c *forwardAuthClient) doJSON(t *testing.T, method, path string, hdr http.Header, body string, wantStatus int, v any) {
	t.Helper()
	resp, b := c.do(t, method, c.base+path, hdr, body)
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s: got %d %s, want %d", method, path, resp.StatusCode, b, wantStatus)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s %s: body %s: %v", method, path, b, err)
	}
}

func jsonHeader(h http.Header) http.Header {
	if h == nil {
		h = http.Header{}
	}
	h.Set("Content-Type", "application/json")
	return h
}

func forwardAuthSignUp(email string) string {
	return `{"email":"` + email + `","password":"correct horse battery","password_confirmation":"correct horse battery"}`
}

func (c *forwardAuthClient) register(t *testing.T, email string, hdr http.Header) map[string]any {
	t.Helper()
	var out map[string]any
	c.doJSON(t, "POST", "/v1/auth", jsonHeader(hdr), forwardAuthSignUp(email), http.StatusCreated, &out)
	return out
}

func (c *forwardAuthClient) signIn(t *testing.T, body string) map[string]any {
	t.Helper()
	var out map[string]any
	c.doJSON(t, "POST", "/v1/auth/sign_in", jsonHeader(http.Header{"X-Auth-Transport": {"token"}}), body, http.StatusOK, &out)
	return out
}

// whoAmI returns the caller's user id (from /me) and session id (the
// current one in /sessions), as the strings the headers carry.
func (c *forwardAuthClient) whoAmI(t *testing.T, auth http.Header) (userID, sessionID string) {
	t.Helper()
	var me struct{ ID int64 }
	c.doJSON(t, "GET", "/v1/auth/me", auth, "", http.StatusOK, &me)
	sid, _ := c.currentSession(t, auth)["id"].(string)
	if me.ID == 0 || sid == "" {
		t.Fatalf("GET /v1/auth/me and /v1/auth/sessions: got user %d session %q, want both", me.ID, sid)
	}
	return strconv.FormatInt(me.ID, 10), sid
}

func (c *forwardAuthClient) currentSession(t *testing.T, auth http.Header) map[string]any {
	t.Helper()
	var list []map[string]any
	c.doJSON(t, "GET", "/v1/auth/sessions", auth, "", http.StatusOK, &list)
	for _, s := range list {
		if s["current"] == true {
			return s
		}
	}
	t.Fatalf("GET /v1/auth/sessions: no current session in %v", list)
	return nil
}

// forwardAuthApp stands in for the protected application: it echoes what
// identity headers it received.
type forwardAuthApp struct {
	srv  *httptest.Server
	mu   sync.Mutex
	hits int
}

type forwardAuthEcho struct {
	Method    string   `json:"method"`
	Path      string   `json:"path"`
	UserID    []string `json:"user_id"`
	SessionID []string `json:"session_id"`
}

func newForwardAuthApp(t *testing.T) *forwardAuthApp {
	a := &forwardAuthApp{}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.hits++
		a.mu.Unlock()
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(forwardAuthEcho{
			Method: r.Method, Path: r.URL.Path,
			UserID: r.Header.Values("X-User-Id"), SessionID: r.Header.Values("X-Session-Id"),
		})
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *forwardAuthApp) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.hits
}

// checkSaw checks the application's echo: the request came through with
// exactly the verified user and session ids, whatever the client sent.
func (a *forwardAuthApp) checkSaw(t *testing.T, body []byte, method, userID, sessionID string) {
	t.Helper()
	var got forwardAuthEcho
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("%s /app/hello: application's answer %s: %v", method, body, err)
	}
	want := forwardAuthEcho{Method: method, Path: "/app/hello", UserID: []string{userID}, SessionID: []string{sessionID}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s /app/hello: the application saw %+v, want %+v", method, got, want)
	}
}
