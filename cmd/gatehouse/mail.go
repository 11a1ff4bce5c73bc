package main

import (
	"context"
	"log/slog"
	"net/url"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/mail"
)

// MailConfig is the mail part of Config.
type MailConfig struct {
	PublicURL string
	SMTPURL   string
	From      string
	Templates string
	ResetTTL  time.Duration
	// RequireConfirmation refuses sign-in to unconfirmed addresses.
	RequireConfirmation bool
}

// register adds the mail settings: a serving node's alone, since only its
// outbox worker renders and sends mails (admin commands only queue them).
func (c *MailConfig) register(r registrar) {
	r.add(groupServer, "public-url", "", "base URL of the app whose /reset-password page receives mail links, e.g. https://app.example.com", stringVar(&c.PublicURL))
	r.add(groupServer, "smtp-url", "", "smtp://user:pass@host:587 (STARTTLS, required unless loopback) or smtps://… (implicit TLS); default: mails are written to the log (development)", stringVar(&c.SMTPURL))
	r.add(groupServer, "mail-from", "Gatehouse <no-reply@localhost>", "sender of every mail", stringVar(&c.From))
	r.add(groupServer, "mail-templates", "", "folder of templates (<kind>.txt, <kind>.html) that replace the embedded ones", stringVar(&c.Templates))
	r.add(groupServer, "reset-ttl", "30m", "how long a password-reset link works", durationVar(&c.ResetTTL))
	r.add(groupServer, "require-email-confirmation", "false", "refuse sign-in (403 email_unconfirmed) until a registered address is confirmed; registration then starts no session", boolVar(&c.RequireConfirmation))
}

func (c *MailConfig) validate() error {
	switch {
	case c.ResetTTL < time.Minute || c.ResetTTL > 7*24*time.Hour:
		return usagef("--reset-ttl must be between 1m and 168h")
	case c.SMTPURL != "" && c.PublicURL == "":
		return usagef("--smtp-url needs --public-url: mailed links must lead somewhere")
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return usagef("--public-url: %q is not a URL like https://app.example.com", c.PublicURL)
		}
	}
	return nil
}

// startMailer starts the outbox worker of a serving node; the returned
// func stops it and waits for the mail in hand, if any, to be recorded.
func startMailer(ctx context.Context, cfg *Config, svc *auth.Service, log *slog.Logger) (stop func(), err error) {
	tmpl, err := mail.LoadTemplates(mail.TemplateConfig{
		Dir: cfg.Mail.Templates, PublicURL: cfg.Mail.PublicURL, From: cfg.Mail.From, ResetTTL: cfg.Mail.ResetTTL,
	})
	if err != nil {
		return nil, err
	}
	sender := mail.NewLogSender(log)
	if cfg.Mail.SMTPURL != "" {
		if sender, err = mail.NewSMTPSender(mail.SMTPConfig{URL: cfg.Mail.SMTPURL}); err != nil {
			return nil, usagef("%v", err)
		}
	} else {
		log.Warn("no --smtp-url: mails are written to the log, links included (development only)")
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	w := &mail.Worker{Outbox: svc, Templates: tmpl, Sender: sender, Log: log}
	go func() { defer close(done); w.Run(ctx) }()
	return func() { cancel(); <-done }, nil
}
