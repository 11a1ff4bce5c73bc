// Package mail delivers the mails of the outbox that package auth keeps:
// it renders them from templates and sends them over SMTP (or, for
// development, to the log). It depends on auth's outbox methods; auth
// knows nothing of it.
package mail

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// sendTimeout bounds one SMTP conversation; the outbox lease (two
// minutes) outlasts it, so no other worker takes a mail mid-send.
const sendTimeout = time.Minute

// pollInterval is how often an idle worker looks for due mail: mail
// queued by any node, or left by a node that died, goes out within about
// this long.
const pollInterval = time.Second

// Outbox is what the worker needs of auth.Service.
type Outbox interface {
	NextMail(ctx context.Context) (*auth.Outgoing, error)
	MailDone(ctx context.Context, m *auth.Mail, sendErr error) error
}

// Worker sends the outbox's due mails, one at a time.
type Worker struct {
	Outbox    Outbox
	Templates *Templates
	Sender    Sender
	Log       *slog.Logger
}

// Run sends due mail until ctx ends.
func (w *Worker) Run(ctx context.Context) {
	for {
		sent, err := w.sendOne(ctx)
		if err != nil && ctx.Err() == nil {
			w.Log.Error("mail outbox", "err", err)
		}
		if sent {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(pollInterval):
		}
	}
}

// sendOne sends the next due mail, reporting whether there was one.
func (w *Worker) sendOne(ctx context.Context) (bool, error) {
	m, err := w.Outbox.NextMail(ctx)
	if errors.Is(err, auth.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	msg, err := w.Templates.Render(m)
	if err == nil {
		sctx, cancel := context.WithTimeout(ctx, sendTimeout)
		err = w.Sender.Send(sctx, msg)
		cancel()
	}
	if err != nil && ctx.Err() != nil {
		// Shutting down interrupted the send: leave the mail leased; it
		// is retried when the lease ends, here or on another node.
		return false, nil
	}
	if err != nil {
		w.Log.Warn("mail not sent, will retry", "mail_id", m.ID, "kind", m.Kind, "attempt", m.Attempts, "err", err)
	} else {
		w.Log.Info("mail sent", "mail_id", m.ID, "kind", m.Kind)
	}
	// Record the outcome even if the shutdown began meanwhile, so a sent
	// mail is not sent again.
	return true, w.Outbox.MailDone(context.WithoutCancel(ctx), &m.Mail, err)
}
