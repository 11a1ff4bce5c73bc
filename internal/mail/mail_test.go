package mail

import (
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authtest"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/sqlite"
)

const testPassword = "plum-kettle-orbit-42"

var t0 = time.Date(2025, time.March, 14, 9, 26, 53, 0, time.UTC)

// newWorld is a service on a fresh SQLite file with one user, and a worker
// sending to srv.
func newWorld(t testing.TB, srv *authtest.SMTPServer, smtpURL string) (*auth.Service, *Worker, *authtest.Clock) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := authtest.NewClock(t0)
	svc, err := auth.NewService(auth.Config{
		Store: st, Key: []byte("gatehouse-test-signing-key-0123456789"),
		Hasher:      password.NewHasher(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}),
		HashLimiter: password.NewLimiter(2, time.Second), Now: clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateUser(t.Context(), "a@example.com", testPassword); err != nil {
		t.Fatal(err)
	}
	tmpl, err := LoadTemplates(TemplateConfig{PublicURL: "https://app.example.com/", From: "Gatehouse <no-reply@example.com>", ResetTTL: 30 * time.Minute})
	if err != nil {
		t.Fatalf("LoadTemplates = %v", err)
	}
	sender, err := NewSMTPSender(SMTPConfig{URL: smtpURL, TLS: srv.ClientTLS})
	if err != nil {
		t.Fatalf("NewSMTPSender(%q) = %v", smtpURL, err)
	}
	return svc, &Worker{Outbox: svc, Templates: tmpl, Sender: sender, Log: slog.New(slog.DiscardHandler)}, clock
}

func TestWorker_STARTTLSAndAuth(t *testing.T) {
	srv := authtest.StartSMTP(t, authtest.SMTPOptions{STARTTLS: true, User: "relay", Pass: "s3cret"})
	svc, w, _ := newWorld(t, srv, "smtp://relay:s3cret@"+srv.Addr)
	if err := svc.ForgotPassword(t.Context(), "a@example.com", auth.Client{IP: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	if sent, err := w.sendOne(t.Context()); !sent || err != nil {
		t.Fatalf("sendOne = %v, %v; want a mail sent", sent, err)
	}
	m := srv.Next(t, 5*time.Second)
	if !m.TLS || len(m.To) != 1 || m.To[0] != "a@example.com" || m.From != "no-reply@example.com" {
		t.Errorf("received mail from %q to %v over TLS %v; want no-reply@example.com to a@example.com over STARTTLS", m.From, m.To, m.TLS)
	}
	if got := m.Subject(t); got != "Reset your password" {
		t.Errorf("Subject = %q", got)
	}
	text := m.Text(t)
	if !strings.Contains(text, "https://app.example.com/reset-password#token=") || !strings.Contains(text, "30 minutes") {
		t.Errorf("text part lacks the link or the lifetime:\n%s", text)
	}
	_, err := svc.ResetPassword(t.Context(), auth.PasswordReset{Token: m.Token(t), Password: "quartz-lantern-meadow-77",
		PasswordConfirmation: "quartz-lantern-meadow-77"})
	if err != nil {
		t.Errorf("ResetPassword with the mailed token = %v", err)
	}
}

func TestWorker_RetriesWhileSMTPIsDown(t *testing.T) {
	srv := authtest.StartSMTP(t, authtest.SMTPOptions{})
	svc, w, clock := newWorld(t, srv, "smtp://"+srv.Addr)
	srv.Stop()
	if err := svc.ForgotPassword(t.Context(), "a@example.com", auth.Client{IP: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if sent, err := w.sendOne(t.Context()); !sent || err != nil {
			t.Fatalf("sendOne while SMTP is down = %v, %v; want an attempt recorded", sent, err)
		}
		if sent, _ := w.sendOne(t.Context()); sent {
			t.Fatal("sendOne right after a failure sent again; want a back-off")
		}
		clock.Advance(5 * time.Second)
	}
	srv.Start(t)
	if sent, err := w.sendOne(t.Context()); !sent || err != nil {
		t.Fatalf("sendOne after SMTP came back = %v, %v", sent, err)
	}
	if m := srv.Next(t, 5*time.Second); m.Token(t) == "" {
		t.Errorf("mail delivered after the outage has no token:\n%s", m.Data)
	}
	list, _ := svc.Mails(t.Context(), 0, 1)
	if list[0].State != auth.MailSent || list[0].Attempts != 4 {
		t.Errorf("outbox row = %q after %d attempts; want sent after 4", list[0].State, list[0].Attempts)
	}
}

func TestNewSMTPSender_RefusesBadURLs(t *testing.T) {
	for _, u := range []string{"", "smtp://", "http://mail.example.com", "smtp://mail.example.com:99999",
		"smtp://mail.example.com/path", "smtp://mail.example.com?x=1", "mail.example.com:587"} {
		if _, err := NewSMTPSender(SMTPConfig{URL: u}); err == nil {
			t.Errorf("NewSMTPSender(%q) = nil error, want refused", u)
		}
	}
	for _, u := range []string{"smtp://mail.example.com", "smtps://u:p@mail.example.com:465", "smtp://127.0.0.1:2525"} {
		if _, err := NewSMTPSender(SMTPConfig{URL: u}); err != nil {
			t.Errorf("NewSMTPSender(%q) = %v", u, err)
		}
	}
}

func TestSMTPSender_RequiresSTARTTLSBeyondLoopback(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{{"localhost", true}, {"127.0.0.1", true}, {"::1", true}, {"mail.example.com", false}, {"192.0.2.1", false}}
	for _, tt := range tests {
		if got := isLoopback(tt.host); got != tt.want {
			t.Errorf("isLoopback(%q) = %v, want %v (only loopback may skip STARTTLS)", tt.host, got, tt.want)
		}
	}
}

func TestLoadTemplates_Override(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("password_reset.txt", `{{define "subject"}}Mot de passe
 oublié{{end}}Lien : {{.Link}}`)
	write("password_reset.html", `<a href="{{.Link}}">{{.Email}}</a>`)
	tmpl, err := LoadTemplates(TemplateConfig{Dir: dir, PublicURL: "https://app.example.com"})
	if err != nil {
		t.Fatalf("LoadTemplates(override) = %v", err)
	}
	msg, err := tmpl.Render(&auth.Outgoing{Mail: auth.Mail{Kind: auth.KindPasswordReset, To: `<b>x"@example.com`}, Token: "t.k"})
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != "Mot de passe oublié" || msg.Text != "Lien : https://app.example.com/reset-password#token=t.k" {
		t.Errorf("override rendered subject %q, text %q", msg.Subject, msg.Text)
	}
	if want := `<a href="https://app.example.com/reset-password#token=t.k">&lt;b&gt;x&#34;@example.com</a>`; msg.HTML != want {
		t.Errorf("HTML = %q, want %q (escaped)", msg.HTML, want)
	}
	if other, _ := tmpl.Render(&auth.Outgoing{Mail: auth.Mail{Kind: auth.KindPasswordChanged, To: "a@example.com"}}); other.Subject != "Your password was changed" {
		t.Errorf("a kind without an override lost its default: subject %q", other.Subject)
	}

	for name, body := range map[string]string{
		"password_reset.txt":   `no subject here`,
		"password_changed.txt": `{{define "subject"}}x{{end}}{{.NoSuchField}}`,
	} {
		bad := t.TempDir()
		dir = bad
		write(name, body)
		if _, err := LoadTemplates(TemplateConfig{Dir: bad}); err == nil {
			t.Errorf("LoadTemplates with a broken %s (%q) = nil error, want refused at start-up", name, body)
		}
	}
}

// TestSMTPSender_RefusesPlainTextBeyondLoopback: a relay that offers no
// STARTTLS gets mail on loopback only; on any other address the sender
// refuses to go on in clear text.
func TestSMTPSender_RefusesPlainTextBeyondLoopback(t *testing.T) {
	msg := &Message{From: "a@example.com", To: "b@example.com", Subject: "s", Text: "t", HTML: "<p>t</p>"}
	local := authtest.StartSMTP(t, authtest.SMTPOptions{})
	s, err := NewSMTPSender(SMTPConfig{URL: "smtp://" + local.Addr})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(t.Context(), msg); err != nil {
		t.Fatalf("Send via loopback without STARTTLS = %v, want sent", err)
	}
	local.Next(t, 5*time.Second)

	ip := nonLoopbackIPv4(t)
	remote := authtest.StartSMTP(t, authtest.SMTPOptions{Host: ip})
	if s, err = NewSMTPSender(SMTPConfig{URL: "smtp://" + remote.Addr}); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(t.Context(), msg); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("Send via %s without STARTTLS = %v, want refused for want of STARTTLS", remote.Addr, err)
	}
	remote.None(t, 500*time.Millisecond)
}

// nonLoopbackIPv4 is an address of this machine other than loopback.
func nonLoopbackIPv4(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	t.Skip("this machine has no non-loopback IPv4 address to listen on")
	return ""
}
