// Package browsertest drives Debian's Chromium, headless, for end-to-end
// tests of what a browser does with Gatehouse's answers: CORS, cookies,
// CSRF headers, WebAuthn ceremonies. Mocks cannot prove those; only a real
// browser decides which cookie it sends and which response a page may read.
//
// Each step a test takes can be saved as a screenshot in the artifacts
// folder: $GATEHOUSE_TEST_BROWSER_ARTIFACTS/<test name> when that variable
// is set (kept), else a folder under os.TempDir() that is removed only when
// the test passes, and whose path a failing test logs. The page's console
// and Chromium's own output are written there too.
package browsertest

import (
	"context"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// ExecPath is where Debian's chromium package installs the browser.
const ExecPath = "/usr/bin/chromium"

// ArtifactsEnv names the folder that keeps every run's screenshots.
const ArtifactsEnv = "GATEHOUSE_TEST_BROWSER_ARTIFACTS"

// stepTimeout bounds one step, so a page that never answers fails the test
// with the step's name rather than at the go test deadline.
const stepTimeout = 15 * time.Second

// Browser is one headless Chromium with one tab, for one test.
type Browser struct {
	t   testing.TB
	ctx context.Context // the tab
	dir string          // artifacts
	n   int             // steps taken, numbering the screenshots

	mu      sync.Mutex
	console strings.Builder
}

// New starts Chromium for t, or skips t when it is not installed; with CI
// set a missing browser fails t instead, so CI cannot pass by skipping.
// The browser stops when t ends.
func New(t testing.TB) *Browser {
	t.Helper()
	if _, err := os.Stat(ExecPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s: %v; CI must run the browser tests (.ci/run installs the chromium package)", ExecPath, err)
		}
		t.Skipf("%s not found: apt-get install chromium to run the browser tests", ExecPath)
	}
	b := &Browser{t: t, dir: artifactsDir(t)}
	out, err := os.Create(filepath.Join(b.dir, "chromium.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })

	// The flags Debian's Chromium needs in a container and none that reach
	// out to the network by themselves. chromedp gives the browser a fresh
	// --user-data-dir of its own and removes it after the browser exits
	// (retrying while Chromium's helpers still write there).
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(ExecPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(900, 700),
		chromedp.CombinedOutput(out),
	)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		b.writeConsole()
	})
	messages := chromedp.Console(ctx)
	start, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	if err := chromedp.Do(start); err != nil {
		t.Fatalf("start %s: %v (its output: %s)", ExecPath, err, out.Name())
	}
	go b.collect(messages)
	b.ctx = ctx
	return b
}

// artifactsDir makes the folder for t's screenshots and arranges for it to
// be kept when t fails.
func artifactsDir(t testing.TB) string {
	name := regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(t.Name(), "_")
	if root := os.Getenv(ArtifactsEnv); root != "" {
		dir := filepath.Join(root, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { t.Logf("screenshots of each step: %s", dir) })
		return dir
	}
	dir, err := os.MkdirTemp("", "gatehouse-browser-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("screenshots of each step, the page's console and Chromium's output are kept in %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	return dir
}

// collect keeps the page's console messages and uncaught exceptions, which
// explain most failures of a page's script.
func (b *Browser) collect(messages iter.Seq2[chromedp.ConsoleMessage, error]) {
	for m, err := range messages {
		if err != nil {
			return
		}
		b.mu.Lock()
		fmt.Fprintf(&b.console, "%s %s:%d %s\n", m.Type, m.URL, m.Line+1, m)
		b.mu.Unlock()
	}
}

func (b *Browser) writeConsole() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := os.WriteFile(filepath.Join(b.dir, "console.log"), []byte(b.console.String()), 0o644); err != nil {
		b.t.Errorf("write the page's console: %v", err)
	}
}

// Context is the tab's context, for chromedp actions the helpers below do
// not cover (such as the DevTools WebAuthn domain).
func (b *Browser) Context() context.Context { return b.ctx }

// Navigate opens url in the tab and waits for it to load.
func (b *Browser) Navigate(url string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		b.t.Fatalf("navigate to %s: %v", url, err)
	}
}

// Eval runs a JavaScript expression in the page, waits for the promise it
// yields, and decodes the result (JSON) into T. It runs as a user gesture,
// as a click would, which WebAuthn ceremonies may ask for. A thrown
// exception or a rejected promise fails the test.
func Eval[T any](b *Browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise, func(p *runtime.EvaluateParams) {
		p.UserGesture = new(true)
	}))
	if err != nil {
		b.t.Fatalf("in the page, %s: %v", expr, err)
	}
	return v
}

// Screenshot saves the whole page as it is now as NN-name.png in the artifacts
// folder, numbered in the order of the steps.
func (b *Browser) Screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Errorf("screenshot %q: %v", name, err)
		return
	}
	b.n++
	path := filepath.Join(b.dir, fmt.Sprintf("%02d-%s.png", b.n, name))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Errorf("screenshot %q: %v", name, err)
	}
}

// Cookie returns the browser's cookie name for url, HttpOnly ones
// included, or nil when it has none.
func (b *Browser) Cookie(url, name string) *network.Cookie {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
	if err != nil {
		b.t.Fatalf("cookies of %s: %v", url, err)
	}
	for _, c := range res.Cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}
