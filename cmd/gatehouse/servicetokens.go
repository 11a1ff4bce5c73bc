package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
)

const serviceTokensUsage = `Usage: gatehouse service-tokens <command> [arguments] [flags]

Credentials for the services that follow the revocation stream
(GET /v1/auth/revocations, see docs/api.md and the verifier package).

Commands:
  create NAME   issue a token and print it once (only its SHA-256 is stored)
  list          list tokens: id, name, created, revoked (--json)
  revoke ID     stop a token working; its open streams end within seconds

Run 'gatehouse service-tokens <command> -h' for its flags.
`

// runServiceTokens dispatches 'gatehouse service-tokens …'.
func runServiceTokens(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && !isHelp(args[0]) {
		return usagef("service-tokens: missing command: create, list or revoke (see 'gatehouse service-tokens -h')")
	}
	cmd, args := args[0], args[1:]
	var c *adminCmd
	var do func(*auth.Service, []string) error
	switch cmd {
	case "create":
		c = newAdminCmd("service-tokens create", "NAME", groupAdmin, `Issue a service token named NAME (for the operator: which service holds it)
and print it on stdout. It is shown this once: Gatehouse keeps only its
SHA-256. Give it to the service as its Authorization: Bearer credential.`)
		do = func(svc *auth.Service, pos []string) error {
			secret, t, err := svc.CreateServiceToken(ctx, pos[0])
			if err == nil {
				fmt.Fprintln(stdout, secret)
				fmt.Fprintf(stderr, "created service token %d (%s); store it now, it is not shown again\n", t.ID, t.Name)
			}
			return err
		}
	case "list":
		c = newAdminCmd("service-tokens list", "", groupAdmin, "List service tokens, revoked ones too, oldest first. Secrets are never shown.")
		asJSON := c.fs.Bool("json", false, "print a JSON array instead of a table")
		do = func(svc *auth.Service, _ []string) error {
			list, err := svc.ServiceTokens(ctx)
			if err != nil {
				return err
			}
			if *asJSON {
				return printServiceTokensJSON(stdout, list)
			}
			return printServiceTokensTable(stdout, list)
		}
	case "revoke":
		c = newAdminCmd("service-tokens revoke", "ID", groupAdmin, `Revoke service token ID: it no longer opens a stream, and streams open with
it end at their next heartbeat. Revoking a revoked token does nothing.`)
		do = func(svc *auth.Service, pos []string) error {
			id, err := strconv.ParseInt(pos[0], 10, 64)
			if err != nil || id <= 0 {
				return usagef("service-tokens revoke: %q is not a token id (see 'gatehouse service-tokens list')", pos[0])
			}
			err = svc.RevokeServiceToken(ctx, id)
			if errors.Is(err, auth.ErrNotFound) {
				return fmt.Errorf("service-tokens revoke: no service token %d", id)
			}
			if err == nil {
				fmt.Fprintf(stdout, "revoked service token %d\n", id)
			}
			return err
		}
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, serviceTokensUsage)
		return nil
	default:
		return usagef("service-tokens: unknown command %q (see 'gatehouse service-tokens -h')", cmd)
	}
	pos, cfg, err := c.parse(args, getenv, stdout)
	if err != nil || cfg == nil {
		return err
	}
	a, err := openApp(ctx, cfg, stderr, cmd != "create")
	if err != nil {
		return err
	}
	defer a.Close()
	return adminError(c.name, do(a.svc, pos))
}

func printServiceTokensJSON(w io.Writer, list []auth.ServiceToken) error {
	type tokenJSON struct {
		ID        int64      `json:"id"`
		Name      string     `json:"name"`
		CreatedAt time.Time  `json:"created_at"`
		RevokedAt *time.Time `json:"revoked_at"`
	}
	out := make([]tokenJSON, len(list))
	for i, t := range list {
		out[i] = tokenJSON{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt}
		if !t.RevokedAt.IsZero() {
			out[i].RevokedAt = &list[i].RevokedAt
		}
	}
	return printJSON(w, out)
}

func printServiceTokensTable(w io.Writer, list []auth.ServiceToken) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tCREATED\tREVOKED")
	for _, t := range list {
		revoked := "-"
		if !t.RevokedAt.IsZero() {
			revoked = stamp(t.RevokedAt)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", t.ID, printable(t.Name, 60), stamp(t.CreatedAt), revoked)
	}
	return tw.Flush()
}
