package mail

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
)

//go:embed templates/*
var defaultTemplates embed.FS

// linkPaths are the paths, under the public URL, of the app pages that
// take a mail's token. The token goes in the fragment: browsers never send
// it to a server, so it reaches no access log and no Referer.
var linkPaths = map[auth.MailKind]string{
	auth.KindPasswordReset: "/reset-password",
	auth.KindConfirmEmail:  "/confirm-email",
	auth.KindEmailChange:   "/confirm-email",
}

// kinds are the mail kinds with templates; each needs <kind>.txt (which
// also defines "subject") and <kind>.html.
var kinds = []auth.MailKind{auth.KindPasswordReset, auth.KindPasswordChanged,
	auth.KindConfirmEmail, auth.KindEmailChange, auth.KindEmailChangeNotice,
	auth.KindFactorAdded, auth.KindFactorRemoved, auth.KindRecoveryCodeUsed}

// Message is a rendered mail.
type Message struct {
	From, To, Subject string
	Text, HTML        string
	// Link is the mail's link, "" if it has none; only the development
	// mailer looks at it.
	Link string
}

// Templates render mails. The text part uses text/template; the HTML part
// html/template, which escapes the address and the link for their context.
type Templates struct {
	text      map[auth.MailKind]*texttemplate.Template
	html      map[auth.MailKind]*htmltemplate.Template
	publicURL string
	from      string
	resetTTL  time.Duration
}

// TemplateConfig configures LoadTemplates.
type TemplateConfig struct {
	// Dir, if set, holds templates that replace the embedded defaults,
	// file by file (<kind>.txt, <kind>.html); missing files keep the
	// default.
	Dir string
	// PublicURL is the base of the links, e.g. https://app.example.com.
	PublicURL string
	From      string
	// ResetTTL is shown in the reset mail.
	ResetTTL time.Duration
}

// LoadTemplates parses every template once, at start-up, so a broken
// override stops the server instead of the first mail.
func LoadTemplates(cfg TemplateConfig) (*Templates, error) {
	t := &Templates{
		text:      map[auth.MailKind]*texttemplate.Template{},
		html:      map[auth.MailKind]*htmltemplate.Template{},
		publicURL: strings.TrimRight(cfg.PublicURL, "/"),
		from:      cfg.From,
		resetTTL:  cfg.ResetTTL,
	}
	var override fs.FS
	if cfg.Dir != "" {
		override = os.DirFS(cfg.Dir)
	}
	for _, k := range kinds {
		txt, err := readTemplate(override, string(k)+".txt")
		if err != nil {
			return nil, err
		}
		if t.text[k], err = texttemplate.New(string(k)).Option("missingkey=error").Parse(txt); err != nil {
			return nil, fmt.Errorf("mail: template %s.txt: %w", k, err)
		}
		if t.text[k].Lookup("subject") == nil {
			return nil, fmt.Errorf("mail: template %s.txt defines no \"subject\"", k)
		}
		html, err := readTemplate(override, string(k)+".html")
		if err != nil {
			return nil, err
		}
		if t.html[k], err = htmltemplate.New(string(k)).Option("missingkey=error").Parse(html); err != nil {
			return nil, fmt.Errorf("mail: template %s.html: %w", k, err)
		}
	}
	// Render each once with sample data: a template that names a field
	// that does not exist fails here, not on a user's mail.
	for _, k := range kinds {
		if _, err := t.Render(&auth.Outgoing{Mail: auth.Mail{Kind: k, To: "user@example.com"}, Token: "sample"}); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func readTemplate(override fs.FS, name string) (string, error) {
	if override != nil {
		b, err := fs.ReadFile(override, name)
		if err == nil {
			return string(b), nil
		}
		if !os.IsNotExist(err) {
			return "", fmt.Errorf("mail: template %s: %w", name, err)
		}
	}
	b, err := defaultTemplates.ReadFile("templates/" + name)
	return string(b), err
}

// templateData is what templates see.
type templateData struct {
	Email    string
	Link     string
	ValidFor string
}

// Render builds the message for m.
func (t *Templates) Render(m *auth.Outgoing) (*Message, error) {
	txt, ok := t.text[m.Kind]
	if !ok {
		return nil, fmt.Errorf("mail: no template for kind %q", m.Kind)
	}
	d := templateData{Email: m.To, ValidFor: humanDuration(t.resetTTL)}
	if path, ok := linkPaths[m.Kind]; ok {
		d.Link = t.publicURL + path + "#token=" + m.Token
	}
	var subject, text, html bytes.Buffer
	if err := txt.ExecuteTemplate(&subject, "subject", d); err != nil {
		return nil, fmt.Errorf("mail: render %s subject: %w", m.Kind, err)
	}
	if err := txt.Execute(&text, d); err != nil {
		return nil, fmt.Errorf("mail: render %s.txt: %w", m.Kind, err)
	}
	if err := t.html[m.Kind].Execute(&html, d); err != nil {
		return nil, fmt.Errorf("mail: render %s.html: %w", m.Kind, err)
	}
	return &Message{
		From: t.from, To: m.To, Link: d.Link,
		// A header must be one line, whatever an override template says.
		Subject: strings.Join(strings.Fields(subject.String()), " "),
		Text:    text.String(),
		HTML:    html.String(),
	}, nil
}

// humanDuration says d the way a mail would: "30 minutes", "2 hours".
func humanDuration(d time.Duration) string {
	n, unit := int64(d/time.Minute), "minute"
	if d >= time.Hour && d%time.Hour == 0 {
		n, unit = int64(d/time.Hour), "hour"
	}
	if n != 1 {
		unit += "s"
	}
	return fmt.Sprintf("%d %s", n, unit)
}
