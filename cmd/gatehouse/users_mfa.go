package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// runUsersMFA dispatches 'gatehouse users mfa …'.
func runUsersMFA(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && !isHelp(args[0]) {
		return usagef("users mfa: missing command: list or reset (see 'gatehouse users -h')")
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "list":
		return runUsersMFAList(ctx, args, getenv, stdout, stderr)
	case "reset":
		return runUsersMFAReset(ctx, args, getenv, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usersUsage)
		return nil
	}
	return usagef("users mfa: unknown command %q (see 'gatehouse users -h')", cmd)
}

func runUsersMFAList(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := newAdminCmd("users mfa list", "USER", groupAdmin, `List the kinds of second factor a user has (totp, recovery_code, passkey):
none means the password alone signs in.`)
	return c.onUser(ctx, args, getenv, stdout, stderr, func(svc *auth.Service, u *auth.User) error {
		kinds, err := svc.SecondFactors(ctx, u.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "user %d (%s): %s\n", u.ID, u.Email, factorList(kinds))
		return nil
	})
}

func runUsersMFAReset(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := newAdminCmd("users mfa reset", "USER", groupAdmin, `Remove every second factor of a user (TOTP, recovery codes, passkeys), for
a user who lost theirs: the password alone signs in again. Each removal is
audited and the user is told by mail. Check who is asking first: this undoes
what the factors protect.`)
	return c.onUser(ctx, args, getenv, stdout, stderr, func(svc *auth.Service, u *auth.User) error {
		fmt.Fprintf(stdout, "removing the second factors of user %d (%s)…\n", u.ID, u.Email)
		had, err := svc.ResetSecondFactors(ctx, u.ID)
		if err != nil {
			return err
		}
		if len(had) == 0 {
			fmt.Fprintf(stdout, "user %d (%s) had no second factor\n", u.ID, u.Email)
			return nil
		}
		fmt.Fprintf(stdout, "removed %s of user %d (%s)\n", factorList(had), u.ID, u.Email)
		return nil
	})
}

func factorList(kinds []auth.Method) string {
	if len(kinds) == 0 {
		return "no second factor"
	}
	return strings.ReplaceAll(auth.FormatMethods(kinds), ",", ", ")
}
