package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/gatehouse/gatehouse/internal/auth"
)

const sessionsUsage = `Usage: gatehouse sessions <command> [arguments] [flags]

See and end sign-in sessions. USER is a user id or an email address.

Commands:
  list USER           list the user's live sessions, newest first (--json)
  revoke SESSION_ID   end a session, whoever it belongs to
  import-jwt-sessions import the Rails app's live sessions from the jwt_sessions gem's Redis

Run 'gatehouse sessions <command> -h' for its flags. To end all of a
user's sessions and stop them signing in again, use 'gatehouse users lock'.
`

// runSessions dispatches 'gatehouse sessions …'.
func runSessions(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && !isHelp(args[0]) {
		return usagef("sessions: missing command: list, revoke or import-jwt-sessions (see 'gatehouse sessions -h')")
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "list":
		return runSessionsList(ctx, args, getenv, stdout, stderr)
	case "revoke":
		return runSessionsRevoke(ctx, args, getenv, stdout, stderr)
	case "import-jwt-sessions":
		return runSessionsImportJWT(ctx, args, getenv, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, sessionsUsage)
		return nil
	}
	return usagef("sessions: unknown command %q (see 'gatehouse sessions -h')", cmd)
}

func runSessionsList(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := newAdminCmd("sessions list", "USER", groupAdmin, `List a user's live sessions, newest first: id, when it was created and last
refreshed, when it ends, and the address and user agent that created it.`)
	asJSON := c.fs.Bool("json", false, "print a JSON array instead of a table")
	return c.onUser(ctx, args, getenv, stdout, stderr, func(svc *auth.Service, u *auth.User) error {
		list, err := svc.UserSessions(ctx, u.ID)
		if err != nil {
			return err
		}
		if *asJSON {
			return printSessionsJSON(stdout, list)
		}
		return printSessionsTable(stdout, list)
	})
}

func printSessionsJSON(w io.Writer, list []auth.Session) error {
	type sessionJSON struct {
		ID         string    `json:"id"`
		UserID     int64     `json:"user_id"`
		CreatedAt  time.Time `json:"created_at"`
		LastUsedAt time.Time `json:"last_used_at"`
		ExpiresAt  time.Time `json:"expires_at"`
		IP         string    `json:"ip"`
		UserAgent  string    `json:"user_agent"`
	}
	out := make([]sessionJSON, len(list))
	for i, s := range list {
		out[i] = sessionJSON{ID: s.ID, UserID: s.UserID, CreatedAt: s.CreatedAt, LastUsedAt: s.LastUsedAt,
			ExpiresAt: s.ExpiresAt, IP: s.IP, UserAgent: s.UserAgent}
	}
	return printJSON(w, out)
}

func printSessionsTable(w io.Writer, list []auth.Session) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCREATED\tLAST USED\tEXPIRES\tIP\tUSER AGENT")
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, stamp(s.CreatedAt), stamp(s.LastUsedAt),
			stamp(s.ExpiresAt), printable(s.IP, 45), printable(s.UserAgent, 60))
	}
	return tw.Flush()
}

// printable makes a client-supplied value safe for one table cell: no
// control characters (a user agent could move the cursor or break the
// columns), at most max runes.
func printable(s string, max int) string {
	if s == "" {
		return "-"
	}
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == max {
			b.WriteString("…")
			break
		}
		if !unicode.IsPrint(r) {
			r = '?'
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

func runSessionsRevoke(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := newAdminCmd("sessions revoke", "SESSION_ID", groupAdmin, `End a session, whoever it belongs to: its access and refresh tokens stop
working. Revoking a session that has ended already does nothing.

`+sqliteNote)
	return c.withApp(ctx, args, getenv, stdout, stderr, func(a *app, pos []string) error {
		err := a.svc.RevokeSessionByID(ctx, pos[0])
		if errors.Is(err, auth.ErrNotFound) {
			return fmt.Errorf("sessions revoke: no session %q", pos[0])
		}
		if err != nil {
			return adminError(c.name, err)
		}
		fmt.Fprintf(stdout, "revoked session %s\n", pos[0])
		return nil
	})
}
