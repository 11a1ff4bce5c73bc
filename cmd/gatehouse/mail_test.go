package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/authtest"
)

func forgotJSON(email string) string { return `{"email":"` + email + `"}` }

func resetJSON(tok, pw string) string {
	return `{"token":"` + tok + `","password":"` + pw + `","password_confirmation":"` + pw + `"}`
}

// TestMail_ForgotResetOverSTARTTLS follows the flow as a user would, with
// real processes and a real SMTP relay that demands STARTTLS and AUTH:
// forgot → the mail arrives → the link's token → reset → signed in, and
// the sessions from before are dead.
func TestMail_ForgotResetOverSTARTTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real server processes")
	}
	srv := authtest.StartSMTP(t, authtest.SMTPOptions{STARTTLS: true, User: "relay", Pass: "relay-pass"})
	t.Setenv("SSL_CERT_FILE", srv.CAFile) // the child trusts the test's certificate, and only it
	db := "sqlite:" + filepath.Join(t.TempDir(), "g.db")
	n := startNodes(t, []string{"a"}, db, "--rate-limit=false", "--smtp-url", "smtp://relay:relay-pass@"+srv.Addr,
		"--public-url", "https://app.example.com", "--mail-from", "Example <auth@example.com>")[0]

	reg := n.register("owner@example.com")
	if reg.status != http.StatusCreated {
		t.Fatalf("register: %v", reg)
	}
	confirm := srv.Next(t, 10*time.Second)
	if got := confirm.Subject(t); got != "Confirm your email address" {
		t.Fatalf("first mail after registering is titled %q, want the confirmation", got)
	}
	if r := n.do("POST", "/v1/auth/email/confirm", `{"token":"`+confirm.Token(t)+`"}`); r.status != http.StatusOK {
		t.Errorf("confirm with the mailed token: %v, want 200", r)
	}
	if r := n.do("POST", "/v1/auth/password/forgot", forgotJSON("owner@example.com")); r.status != http.StatusAccepted {
		t.Fatalf("forgot: %v, want 202", r)
	}
	m := srv.Next(t, 10*time.Second)
	if !m.TLS || m.From != "auth@example.com" || len(m.To) != 1 || m.To[0] != "owner@example.com" {
		t.Fatalf("mail from %q to %v (TLS %v); want auth@example.com to owner@example.com over STARTTLS", m.From, m.To, m.TLS)
	}
	tok := m.Token(t)
	r := n.do("POST", "/v1/auth/password/reset", resetJSON(tok, "brand-new-pass-2027"))
	if r.status != http.StatusOK || r.str("access") == "" {
		t.Fatalf("reset with the mailed token: %v, want 200 with tokens", r)
	}
	if got := n.do("GET", "/v1/auth/me", "", bearer(r.str("access"))...); got.status != http.StatusOK {
		t.Errorf("/me with the reset's session: %v, want 200", got)
	}
	if got := n.do("GET", "/v1/auth/me", "", bearer(reg.str("access"))...); got.status != http.StatusUnauthorized {
		t.Errorf("/me with a session from before the reset: %v, want 401", got)
	}
	if got := n.signIn("owner@example.com", "brand-new-pass-2027"); got.status != http.StatusOK {
		t.Errorf("sign in with the new password: %v", got)
	}
	if got := n.do("POST", "/v1/auth/password/reset", resetJSON(tok, "another-pass-2028")); got.status != http.StatusUnprocessableEntity || got.code() != "token_invalid" {
		t.Errorf("second reset with the same token: %v, want 422 token_invalid", got)
	}
	if notice := srv.Next(t, 10*time.Second); notice.Subject(t) != "Your password was changed" {
		t.Errorf("after the reset got a mail titled %q, want the password-changed notice", notice.Subject(t))
	}

	// The address change: a link to the new address, a notice to the old.
	signedIn := n.signIn("owner@example.com", "brand-new-pass-2027")
	change := `{"email":"moved@example.com","current_password":"brand-new-pass-2027"}`
	if r := n.do("PUT", "/v1/auth/email", change, bearer(signedIn.str("access"))...); r.status != http.StatusAccepted {
		t.Fatalf("PUT /v1/auth/email: %v, want 202", r)
	}
	byTo := map[string]authtest.ReceivedMail{}
	for range 2 {
		m := srv.Next(t, 10*time.Second)
		byTo[m.To[0]] = m
	}
	link, ok := byTo["moved@example.com"]
	if notice, ok := byTo["owner@example.com"]; !ok || notice.Token(t) != "" {
		t.Errorf("the old address got %v (present %v); want a notice without a link", notice.Subject(t), ok)
	}
	if !ok {
		t.Fatalf("no mail to the new address; got mails to %v", byTo)
	}
	if r := n.do("POST", "/v1/auth/email/confirm", `{"token":"`+link.Token(t)+`"}`); r.status != http.StatusOK {
		t.Fatalf("confirm the new address: %v, want 200", r)
	}
	if r := n.signIn("moved@example.com", "brand-new-pass-2027"); r.status != http.StatusOK {
		t.Errorf("sign in with the new address: %v", r)
	}
	if r := n.do("GET", "/v1/auth/me", "", bearer(signedIn.str("access"))...); r.status != http.StatusUnauthorized {
		t.Errorf("/me with a session from before the address change: %v, want 401", r)
	}
}

// TestMail_DeliveredOnceAcrossKillDashNine: a reset request is
// acknowledged (committed) while the relay is down, the server is killed
// with SIGKILL before it could send, the relay comes back, and a new
// server process delivers the mail exactly once.
func TestMail_DeliveredOnceAcrossKillDashNine(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real server processes")
	}
	srv := authtest.StartSMTP(t, authtest.SMTPOptions{})
	srv.Stop()
	db := "sqlite:" + filepath.Join(t.TempDir(), "g.db")
	flags := []string{"--rate-limit=false", "--smtp-url", "smtp://" + srv.Addr, "--public-url", "https://app.example.com"}
	n := startNodes(t, []string{"first"}, db, flags...)[0]
	if r := n.register("owner@example.com"); r.status != http.StatusCreated {
		t.Fatalf("register: %v", r)
	}
	if r := n.do("POST", "/v1/auth/password/forgot", forgotJSON("owner@example.com")); r.status != http.StatusAccepted {
		t.Fatalf("forgot: %v, want 202", r)
	}
	time.Sleep(1500 * time.Millisecond) // an attempt or two fail against the dead relay
	n.cmd.Process.Signal(syscall.SIGKILL)
	n.cmd.Wait()

	srv.Start(t)
	startNodes(t, []string{"second"}, db, flags...)
	// Both mails the first process acknowledged: the registration's
	// confirmation and the reset, each exactly once.
	got := map[string]int{}
	for range 2 {
		m := srv.Next(t, 15*time.Second)
		if m.Token(t) == "" {
			t.Errorf("a mail delivered after the restart carries no link:\n%s", m.Data)
		}
		got[m.Subject(t)]++
	}
	if got["Reset your password"] != 1 || got["Confirm your email address"] != 1 {
		t.Errorf("delivered after the restart: %v; want the reset and the confirmation once each", got)
	}
	srv.None(t, 3*time.Second)
}

// TestMail_ThreeNodesSendEachMailOnce: three PostgreSQL nodes race for
// one outbox (FOR UPDATE SKIP LOCKED); every mail goes out exactly once.
func TestMail_ThreeNodesSendEachMailOnce(t *testing.T) {
	db := newTestDB(t, requireCluster(t))
	srv := authtest.StartSMTP(t, authtest.SMTPOptions{})
	srv.Stop() // let mail pile up, then release it to all nodes at once
	nodes := startNodes(t, []string{"a", "b", "c"}, db.url, "--rate-limit=false", "--smtp-url", "smtp://"+srv.Addr,
		"--public-url", "https://app.example.com")
	const users = 12
	for i := range users {
		if r := nodes[i%3].register(fmt.Sprintf("u%d@example.com", i)); r.status != http.StatusCreated {
			t.Fatalf("register u%d: %v", i, r)
		}
	}
	time.Sleep(1500 * time.Millisecond)
	srv.Start(t)
	got := map[string]int{}
	for range users {
		m := srv.Next(t, 20*time.Second)
		got[m.To[0]]++
	}
	srv.None(t, 3*time.Second)
	for i := range users {
		if to := fmt.Sprintf("u%d@example.com", i); got[to] != 1 {
			t.Errorf("%s got %d confirmation mails, want 1", to, got[to])
		}
	}
}
