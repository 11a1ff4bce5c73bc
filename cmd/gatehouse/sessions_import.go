package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/jwtsessions"
	"github.com/gatehouse/gatehouse/internal/redis"
)

const importJWTSessionsHelp = `Import the live sessions of the Rails app from the jwt_sessions gem's Redis
store, so that nobody is signed out by the move: the access tokens, cookies
and CSRF tokens the Rails app handed out keep working on Gatehouse (with the
Rails signing key as --secret) until their first refresh moves each session
onto Gatehouse's own secrets. Import the users first ('gatehouse users
import'): sessions are mapped to users by their namespace (--namespace).

The store is read with SCAN, never KEYS, so the Rails app may keep serving
from it meanwhile; nothing in it is changed. A session already imported is
left as it is (while it is unrefreshed, its access token and CSRF secret are
updated from the store, in case Rails refreshed it since), so running the
import again, e.g. once more at the switch, is safe. Sessions of unknown
users, expired ones and malformed records are skipped and counted; the exit
status is 1 if any were skipped for a reason other than expiry.`

func runSessionsImportJWT(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := newAdminCmd("sessions import-jwt-sessions", "", groupAdmin, importJWTSessionsHelp)
	from := c.fs.String("from", "", "redis:// URL of the jwt_sessions store (required)")
	prefix := c.fs.String("prefix", jwtsessions.DefaultPrefix, "the gem's token_prefix")
	namespace := c.fs.String("namespace", jwtsessions.DefaultNamespace, "the refresh records' namespace, {id} standing for the user id")
	return c.withApp(ctx, args, getenv, stdout, stderr, func(a *app, _ []string) error {
		if *from == "" {
			return usagef("%s: --from is required", c.name)
		}
		ns, err := jwtsessions.ParseNamespace(*namespace)
		if err != nil {
			return usagef("%s: %v", c.name, err)
		}
		client, err := redis.Open(ctx, *from)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		defer client.Close()
		src := jwtsessions.NewSource(ctx, client, *prefix, ns)
		p := &sessionProgress{w: stderr, every: time.Second}
		rep, err := a.svc.ImportSessions(ctx, src, auth.SessionImportOptions{Progress: p.update})
		p.clear()
		if rep.Imported > 0 {
			if aerr := analyze(ctx, a.store); aerr != nil {
				fmt.Fprintf(stderr, "%s: updating statistics: %v\n", c.name, aerr)
			}
		}
		printSessionImportReport(stdout, rep)
		switch {
		case err != nil:
			return fmt.Errorf("%s: %w (the batches before were imported; running the import again is safe)", c.name, err)
		case rep.UnknownUser+rep.Malformed > 0:
			return fmt.Errorf("%s: %d sessions were not imported (listed above)", c.name, rep.UnknownUser+rep.Malformed)
		}
		return nil
	})
}

// printSessionImportReport writes the skipped sessions and the summary on
// stdout (stderr is the log and the progress).
func printSessionImportReport(stdout io.Writer, rep *auth.SessionImportReport) {
	printProblems(stdout, rep.Problems, rep.UnknownUser+rep.Malformed)
	fmt.Fprintf(stdout, "sessions: %d imported, %d already present; skipped: %d unknown user, %d expired, %d malformed; in %s (%.0f sessions/s)\n",
		rep.Imported, rep.Present, rep.UnknownUser, rep.Expired, rep.Malformed, rep.Elapsed.Round(time.Millisecond), rate(rep.Rows(), rep.Elapsed))
}

// sessionProgress writes how far a session import has got to stderr, at
// most once per every: the size of a Redis store is not known ahead, so
// it counts rather than gives a percentage.
type sessionProgress struct {
	w     io.Writer
	every time.Duration
	last  time.Duration
	width int
}

func (p *sessionProgress) update(rep auth.SessionImportReport) {
	if rep.Elapsed-p.last < p.every {
		return
	}
	p.last = rep.Elapsed
	line := fmt.Sprintf("importing sessions: %d read, %d imported, %.0f/s", rep.Rows(), rep.Imported, rate(rep.Rows(), rep.Elapsed))
	if !isTerminal(p.w) {
		fmt.Fprintln(p.w, line)
		return
	}
	fmt.Fprintf(p.w, "\r%-*s", p.width, line)
	p.width = len(line)
}

// clear removes the progress line from a terminal.
func (p *sessionProgress) clear() {
	if p.width > 0 {
		fmt.Fprintf(p.w, "\r%*s\r", p.width, "")
	}
}
