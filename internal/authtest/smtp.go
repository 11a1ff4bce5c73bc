package authtest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SMTPServer is a real SMTP server on loopback for tests: the mail
// Gatehouse sends crosses TCP and the SMTP protocol as it would to a
// relay. It can be stopped and started again on the same port.
type SMTPServer struct {
	Addr string // host:port, 127.0.0.1 unless SMTPOptions.Host
	// CAFile is a PEM file of the certificate the server presents with
	// STARTTLS (SSL_CERT_FILE for a child process); ClientTLS trusts it.
	CAFile    string
	ClientTLS *tls.Config

	opts  SMTPOptions
	mails chan ReceivedMail
	mu    sync.Mutex
	srv   *smtp.Server
	ln    net.Listener
}

// SMTPOptions configure StartSMTP.
type SMTPOptions struct {
	// STARTTLS offers STARTTLS with a certificate for 127.0.0.1 and
	// localhost, made for this test.
	STARTTLS bool
	// User and Pass, if set, make AUTH PLAIN mandatory.
	User, Pass string
	// Host is the address to listen on; default 127.0.0.1.
	Host string
}

// ReceivedMail is one mail the server accepted.
type ReceivedMail struct {
	From string
	To   []string
	Data []byte
	TLS  bool
}

// StartSMTP starts a server; it stops with the test.
func StartSMTP(t testing.TB, opts SMTPOptions) *SMTPServer {
	t.Helper()
	s := &SMTPServer{opts: opts, mails: make(chan ReceivedMail, 100)}
	if opts.STARTTLS {
		s.makeCertificate(t)
	}
	host := opts.Host
	if host == "" {
		host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("listen for SMTP: %v", err)
	}
	s.Addr = ln.Addr().String()
	s.serve(ln)
	t.Cleanup(s.Stop)
	return s
}

func (s *SMTPServer) serve(ln net.Listener) {
	srv := smtp.NewServer(backend{s})
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.AllowInsecureAuth = !s.opts.STARTTLS
	if s.opts.STARTTLS {
		srv.TLSConfig = s.ClientTLS.Clone()
	}
	s.mu.Lock()
	s.srv, s.ln = srv, ln
	s.mu.Unlock()
	go srv.Serve(ln)
}

// Stop closes the server: connections are refused until Start.
func (s *SMTPServer) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		// Close the listener too: Serve may not have registered it with
		// the server yet.
		s.ln.Close()
		s.srv.Close()
		s.srv = nil
	}
}

// Start serves again on the same address.
func (s *SMTPServer) Start(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		t.Fatalf("listen for SMTP again on %s: %v", s.Addr, err)
	}
	s.serve(ln)
}

// Next waits up to timeout for the next mail.
func (s *SMTPServer) Next(t testing.TB, timeout time.Duration) ReceivedMail {
	t.Helper()
	select {
	case m := <-s.mails:
		return m
	case <-time.After(timeout):
		t.Fatalf("no mail arrived at %s within %v", s.Addr, timeout)
		return ReceivedMail{}
	}
}

// None fails the test if a mail arrives within wait.
func (s *SMTPServer) None(t testing.TB, wait time.Duration) {
	t.Helper()
	select {
	case m := <-s.mails:
		t.Fatalf("unexpected mail to %v: %s", m.To, m.Data)
	case <-time.After(wait):
	}
}

var tokenInLink = regexp.MustCompile(`#token=([A-Za-z0-9_.-]+)`)

// Token returns the token of the link in the mail's text part, or "".
func (m ReceivedMail) Token(t testing.TB) string {
	t.Helper()
	if sub := tokenInLink.FindStringSubmatch(m.Text(t)); sub != nil {
		return sub[1]
	}
	return ""
}

// Text returns the decoded text/plain part of the mail.
func (m ReceivedMail) Text(t testing.TB) string {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatalf("received mail does not parse: %v", err)
	}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("received mail's Content-Type: %v", err)
	}
	r := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := r.NextRawPart()
		if err != nil {
			t.Fatalf("received mail has no text/plain part: %v", err)
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
			var body io.Reader = p
			if p.Header.Get("Content-Transfer-Encoding") == "quoted-printable" {
				body = quotedprintable.NewReader(p)
			}
			b, err := io.ReadAll(body)
			if err != nil {
				t.Fatalf("read text part: %v", err)
			}
			return string(b)
		}
	}
}

// Subject returns the decoded Subject header.
func (m ReceivedMail) Subject(t testing.TB) string {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatalf("received mail does not parse: %v", err)
	}
	subj, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("Subject: %v", err)
	}
	return subj
}

func (s *SMTPServer) makeCertificate(t testing.TB) {
	cert, key := SelfSignedCert(t, "gatehouse test SMTP")
	der := cert.Raw
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	s.ClientTLS = &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		RootCAs:      pool,
		MinVersion:   tls.VersionTLS12,
	}
	s.CAFile = filepath.Join(t.TempDir(), "smtp-ca.pem")
	if err := os.WriteFile(s.CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

type backend struct{ s *SMTPServer }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	_, tlsOn := c.TLSConnectionState()
	return &smtpSession{s: b.s, conn: c, authed: b.s.opts.User == "", mail: ReceivedMail{TLS: tlsOn}}, nil
}

type smtpSession struct {
	s      *SMTPServer
	conn   *smtp.Conn
	authed bool
	mail   ReceivedMail
}

func (ss *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != ss.s.opts.User || pass != ss.s.opts.Pass {
			return errors.New("invalid credentials")
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.mail.From = from
	return nil
}

func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.mail.To = append(ss.mail.To, to)
	return nil
}

func (ss *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := ss.mail
	m.Data = b
	_, m.TLS = ss.conn.TLSConnectionState()
	ss.s.mails <- m
	return nil
}

func (ss *smtpSession) Reset()        { ss.mail = ReceivedMail{} }
func (ss *smtpSession) Logout() error { return nil }
