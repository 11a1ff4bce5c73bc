package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"

	gomail "github.com/wneessen/go-mail"
)

// Sender delivers one rendered message.
type Sender interface {
	Send(ctx context.Context, m *Message) error
}

// SMTPConfig configures NewSMTPSender.
type SMTPConfig struct {
	// URL is smtp://[user:pass@]host[:port] (STARTTLS, port 587 by
	// default) or smtps://[user:pass@]host[:port] (TLS from the first
	// byte, port 465 by default).
	URL string
	// TLS, if set, replaces the default TLS settings (tests trust their
	// own certificate with it).
	TLS *tls.Config
}

// smtpSender sends through an SMTP relay, one connection per mail: the
// outbox sends a handful of mails a minute, not a stream.
type smtpSender struct {
	host string
	opts []gomail.Option
}

// NewSMTPSender checks the URL and builds a Sender. STARTTLS is mandatory
// except to a loopback host (a local relay): a reset link sent in clear
// text over the network is a password sent in clear text.
func NewSMTPSender(cfg SMTPConfig) (Sender, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, errors.New("mail: --smtp-url is not a URL")
	}
	host := u.Hostname()
	if host == "" || u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		return nil, errors.New("mail: --smtp-url must be smtp://[user:pass@]host[:port] or smtps://…")
	}
	opts := []gomail.Option{gomail.WithTimeout(sendTimeout)}
	if cfg.TLS != nil {
		tc := cfg.TLS.Clone()
		if tc.ServerName == "" {
			tc.ServerName = host
		}
		opts = append(opts, gomail.WithTLSConfig(tc))
	}
	port := 587
	switch u.Scheme {
	case "smtp":
		policy := gomail.TLSMandatory
		if isLoopback(host) {
			policy = gomail.TLSOpportunistic
		}
		opts = append(opts, gomail.WithTLSPolicy(policy))
	case "smtps":
		port = 465
		opts = append(opts, gomail.WithSSL())
	default:
		return nil, fmt.Errorf("mail: --smtp-url scheme %q: want smtp or smtps", u.Scheme)
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil || port < 1 || port > 65535 {
			return nil, fmt.Errorf("mail: --smtp-url port %q is invalid", p)
		}
	}
	opts = append(opts, gomail.WithPort(port))
	if u.User != nil {
		pass, _ := u.User.Password()
		// AUTH only over TLS (go-mail refuses PLAIN/LOGIN in clear text);
		// the strongest mechanism the server offers is chosen.
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(u.User.Username()), gomail.WithPassword(pass))
	}
	return &smtpSender{host: host, opts: opts}, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Send delivers m as a multipart/alternative mail (text, then HTML).
func (s *smtpSender) Send(ctx context.Context, m *Message) error {
	msg := gomail.NewMsg()
	if err := msg.From(m.From); err != nil {
		return fmt.Errorf("mail: from %q: %w", m.From, err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("mail: to: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	c, err := gomail.NewClient(s.host, s.opts...)
	if err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("mail: send: %w", err)
	}
	return nil
}

// logSender is the development mailer: without --smtp-url each mail,
// with its link, goes to the log instead of a mailbox.
type logSender struct{ log *slog.Logger }

// NewLogSender returns the development mailer.
func NewLogSender(log *slog.Logger) Sender { return logSender{log} }

func (l logSender) Send(ctx context.Context, m *Message) error {
	l.log.WarnContext(ctx, "DEVELOPMENT MAILER: mail not sent, written to the log (set --smtp-url to send mail)",
		"to", m.To, "subject", m.Subject, "link", m.Link)
	return nil
}
