package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestDeviceToken: a sign-in hands out a device token, in its own cookie
// or, for header clients, in X-Device-Token, never in the body; sent
// back, it is recognised (the same token returns) for its account only.
func TestDeviceToken(t *testing.T) {
	t.Parallel()
	ts := newServer(t, serverOptions{})
	ts.register(t, "device@example.com", goodPassword)
	ts.register(t, "other@example.com", goodPassword)
	signIn := func(email string, header map[string]string) response {
		t.Helper()
		resp := ts.do(t, request{method: "POST", path: "/v1/auth/sign_in", header: header, body: credentials(email, goodPassword)})
		if resp.status != 200 {
			t.Fatalf("%s: got status %d, body %s", resp.call, resp.status, resp.body)
		}
		return resp
	}
	deviceCookie := func(resp response) (value, line string) {
		for _, l := range resp.header.Values("Set-Cookie") {
			if v, ok := strings.CutPrefix(l, "gatehouse_device="); ok {
				value, _, _ = strings.Cut(v, ";")
				return value, l
			}
		}
		return "", ""
	}

	t.Run("cookie", func(t *testing.T) {
		resp := signIn("device@example.com", nil)
		tok, line := deviceCookie(resp)
		if want := "gatehouse_device=" + tok + "; Path=/v1/auth; Max-Age=31536000; HttpOnly; Secure; SameSite=Strict"; tok == "" || line != want {
			t.Fatalf("%s: got device cookie %q, want %q", resp.call, line, want)
		}
		if got := decode[map[string]string](t, resp); len(got) != 1 || got["csrf"] == "" {
			t.Errorf("%s: got body %s, want only {\"csrf\"}", resp.call, resp.body)
		}
		if again, _ := deviceCookie(signIn("device@example.com", map[string]string{"Cookie": "gatehouse_device=" + tok})); again != tok {
			t.Errorf("sign-in with the device cookie: got device token %q, want the same %q", again, tok)
		}
		if other, _ := deviceCookie(signIn("other@example.com", map[string]string{"Cookie": "gatehouse_device=" + tok})); other == tok || other == "" {
			t.Errorf("sign-in to another account with the device cookie: got device token %q, want a new one", other)
		}
	})
	t.Run("header", func(t *testing.T) {
		resp := signIn("device@example.com", map[string]string{"X-Auth-Transport": "token"})
		tok := resp.header.Get("X-Device-Token")
		if tok == "" {
			t.Fatalf("%s with X-Auth-Transport: token: no X-Device-Token header", resp.call)
		}
		if c, _ := deviceCookie(resp); c != "" {
			t.Errorf("%s with X-Auth-Transport: token: got a device cookie, want none", resp.call)
		}
		again := signIn("device@example.com", map[string]string{"X-Auth-Transport": "token", "X-Device-Token": tok})
		if got := again.header.Get("X-Device-Token"); got != tok {
			t.Errorf("sign-in with X-Device-Token: got %q back, want the same %q", got, tok)
		}
	})
}

// TestDeviceToken_CrossSiteApp: with --cookie-samesite none (an app on
// another site) the device cookie is SameSite=None too, or the browser
// would never send it back with the app's cross-site sign-ins.
func TestDeviceToken_CrossSiteApp(t *testing.T) {
	t.Parallel()
	ts := newServer(t, serverOptions{cookieSameSite: http.SameSiteNoneMode})
	ts.register(t, "device@example.com", goodPassword)
	resp := ts.do(t, request{method: "POST", path: "/v1/auth/sign_in", body: credentials("device@example.com", goodPassword)})
	for _, l := range resp.header.Values("Set-Cookie") {
		if strings.HasPrefix(l, "gatehouse_device=") {
			if !strings.HasSuffix(l, "; HttpOnly; Secure; SameSite=None") {
				t.Errorf("%s: got device cookie %q, want SameSite=None", resp.call, l)
			}
			return
		}
	}
	t.Errorf("%s: no device cookie", resp.call)
}
