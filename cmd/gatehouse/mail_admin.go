package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/gatehouse/gatehouse/internal/auth"
)

const mailUsage = `Usage: gatehouse mail <command> [arguments] [flags]

Inspect the outbox. Mails are kept after sending; a running server sends
the pending ones (with back-off after failures, giving up after about two
hours).

Commands:
  list       list mails, newest first (--before ID, --limit N, --json)
  retry ID   send a failed (or any) mail again, now
`

// runMail dispatches 'gatehouse mail …'.
func runMail(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && !isHelp(args[0]) {
		return usagef("mail: missing command: list or retry (see 'gatehouse mail -h')")
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "list":
		return runMailList(ctx, args, getenv, stdout, stderr)
	case "retry":
		return runMailRetry(ctx, args, getenv, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, mailUsage)
		return nil
	}
	return usagef("mail: unknown command %q (see 'gatehouse mail -h')", cmd)
}

func runMailList(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := newAdminCmd("mail list", "", groupAdmin, `List the outbox, newest first: id, kind, recipient, state, attempts, when
it was queued, sent or next due, and the last error. No mail's link is shown:
the outbox holds no usable token.`)
	before := c.fs.Int64("before", 0, "list mails with an id below this")
	limit := c.fs.Int("limit", 100, "at most this many")
	asJSON := c.fs.Bool("json", false, "print a JSON array instead of a table")
	return c.withApp(ctx, args, getenv, stdout, stderr, func(a *app, _ []string) error {
		list, err := a.svc.Mails(ctx, *before, *limit)
		if err != nil {
			return adminError(c.name, err)
		}
		if *asJSON {
			return printMailsJSON(stdout, list)
		}
		return printMailsTable(stdout, list)
	})
}

func printMailsTable(w io.Writer, list []auth.Mail) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tTO\tSTATE\tATTEMPTS\tQUEUED\tSENT/NEXT\tLAST ERROR")
	for _, m := range list {
		when := stamp(m.SentAt)
		if m.State == auth.MailPending {
			when = stamp(m.NextAttemptAt)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", m.ID, m.Kind, printable(m.To, 60), m.State,
			m.Attempts, stamp(m.CreatedAt), when, printable(m.LastError, 80))
	}
	return tw.Flush()
}

func printMailsJSON(w io.Writer, list []auth.Mail) error {
	type mailJSON struct {
		ID            int64  `json:"id"`
		Kind          string `json:"kind"`
		To            string `json:"to"`
		UserID        int64  `json:"user_id,omitempty"`
		State         string `json:"state"`
		Attempts      int    `json:"attempts"`
		LastError     string `json:"last_error,omitempty"`
		CreatedAt     string `json:"created_at"`
		NextAttemptAt string `json:"next_attempt_at"`
		SentAt        string `json:"sent_at,omitempty"`
	}
	out := make([]mailJSON, len(list))
	for i, m := range list {
		out[i] = mailJSON{ID: m.ID, Kind: string(m.Kind), To: m.To, UserID: m.UserID, State: string(m.State),
			Attempts: m.Attempts, LastError: m.LastError, CreatedAt: stamp(m.CreatedAt), NextAttemptAt: stamp(m.NextAttemptAt)}
		if !m.SentAt.IsZero() {
			out[i].SentAt = stamp(m.SentAt)
		}
	}
	return printJSON(w, out)
}

func runMailRetry(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := newAdminCmd("mail retry", "ID", groupAdmin, `Make a mail due again now, with its attempts reset: for a mail that failed
(the relay was down for hours, a credential was wrong). A running server
sends it within seconds. A reset mail whose link expired meanwhile is
dropped instead of sent.`)
	pos, cfg, err := c.parse(args, getenv, stdout)
	if err != nil || cfg == nil {
		return err
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil {
		return usagef("mail retry: %q is not a mail id", pos[0])
	}
	a, err := openApp(ctx, cfg, stderr, true)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.svc.RetryMail(ctx, id); err != nil {
		return adminError(c.name, err)
	}
	fmt.Fprintf(stdout, "mail %d is due again\n", id)
	return nil
}

func runUsersSendReset(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := newAdminCmd("users send-reset", "USER", groupAdmin, `Queue a password-reset mail to the user, as if they had asked for one (for
example a user who cannot sign in and asked support for help). A running
server sends it; the link works for --reset-ttl from now.`)
	return c.onUser(ctx, args, getenv, stdout, stderr, func(svc *auth.Service, u *auth.User) error {
		if err := svc.SendReset(ctx, u); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "reset mail for user %d (%s) queued\n", u.ID, u.Email)
		return nil
	})
}

func runUsersSetPassword(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	c := newAdminCmd("users set-password", "USER", groupAdmin|groupPasswords, `Set a user's password, checked as registration checks it, and revoke every
session of the user; outstanding reset links stop working. The owner is sent
a "your password was changed" notice. The password is read from the first
line of standard input with --password-stdin, or else from
GATEHOUSE_NEW_PASSWORD; never from an argument.

`+sqliteNote)
	fromStdin := c.fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	return c.onUser(ctx, args, getenv, stdout, stderr, func(svc *auth.Service, u *auth.User) error {
		pw, err := newPassword(c.name, *fromStdin, getenv, stdin)
		if err != nil {
			return err
		}
		if err := svc.SetPassword(ctx, u, pw); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "password of user %d (%s) set; every session revoked\n", u.ID, u.Email)
		return nil
	})
}
