package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
)

const usersUsage = `Usage: gatehouse users <command> [arguments] [flags]

Manage accounts. USER is a user id or an email address.

Commands:
  create --email EMAIL  create an account (password from --password-stdin
                        or GATEHOUSE_NEW_PASSWORD)
  list                  list accounts by id (--after ID, --limit N, --json)
  lock USER             refuse password sign-in and revoke every session
  unlock USER           lift an administrator's lock and end the account's
                        back-off after failed sign-ins
  delete USER --yes     delete an account and its sessions for good
  import FILE           import the Rails app's users (CSV or JSON Lines)
  send-reset USER       queue a password-reset mail to the user
  set-password USER     set a new password (from --password-stdin or
                        GATEHOUSE_NEW_PASSWORD) and revoke every session
  mfa list USER         the second factors a user has
  mfa reset USER        remove every second factor of a user who lost
                        theirs; the password alone signs in again

Run 'gatehouse users <command> -h' for its flags.
`

// sqliteNote says when a running server sees a change made from the
// command line.
const sqliteNote = `A server running on the same database sees the change within about a second:
on SQLite it polls the database's change log every 200 ms, on PostgreSQL the
change is pushed to every node (LISTEN/NOTIFY).`

// runUsers dispatches 'gatehouse users …'.
func runUsers(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && !isHelp(args[0]) {
		return usagef("users: missing command: create, list, lock, unlock, delete or import (see 'gatehouse users -h')")
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "create":
		return runUsersCreate(ctx, args, getenv, stdin, stdout, stderr)
	case "list":
		return runUsersList(ctx, args, getenv, stdout, stderr)
	case "lock":
		return runUsersLock(ctx, args, getenv, stdout, stderr)
	case "unlock":
		return runUsersUnlock(ctx, args, getenv, stdout, stderr)
	case "delete":
		return runUsersDelete(ctx, args, getenv, stdout, stderr)
	case "import":
		return runUsersImport(ctx, args, getenv, stdin, stdout, stderr)
	case "send-reset":
		return runUsersSendReset(ctx, args, getenv, stdout, stderr)
	case "set-password":
		return runUsersSetPassword(ctx, args, getenv, stdin, stdout, stderr)
	case "mfa":
		return runUsersMFA(ctx, args, getenv, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usersUsage)
		return nil
	}
	return usagef("users: unknown command %q (see 'gatehouse users -h')", cmd)
}

func runUsersCreate(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	c := newAdminCmd("users create", "", groupAdmin|groupPasswords, `Create an account that can sign in with the given password; nobody is
signed in. The email and password are checked as registration checks them.
The password is read from the first line of standard input with
--password-stdin, or else from GATEHOUSE_NEW_PASSWORD; never from an argument,
which other users of the machine can see.`)
	email := c.fs.String("email", "", "the new account's email address (required)")
	fromStdin := c.fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	_, cfg, err := c.parse(args, getenv, stdout)
	if err != nil || cfg == nil {
		return err
	}
	if *email == "" {
		return usagef("users create: --email is required")
	}
	pw, err := newPassword(c.name, *fromStdin, getenv, stdin)
	if err != nil {
		return err
	}
	a, err := openApp(ctx, cfg, stderr, false)
	if err != nil {
		return err
	}
	defer a.Close()
	u, err := a.svc.CreateUser(ctx, *email, pw)
	if err != nil {
		return adminError(c.name, err)
	}
	fmt.Fprintf(stdout, "created user %d (%s)\n", u.ID, u.Email)
	return nil
}

// newPassword reads the password for users create and set-password.
func newPassword(cmd string, fromStdin bool, getenv func(string) string, stdin io.Reader) (string, error) {
	if !fromStdin {
		if pw := getenv("GATEHOUSE_NEW_PASSWORD"); pw != "" {
			return pw, nil
		}
		return "", usagef("%s: give the password on standard input with --password-stdin, or in GATEHOUSE_NEW_PASSWORD", cmd)
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4<<10)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("%s: read the password: %w", cmd, err)
	}
	return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), nil
}

func runUsersList(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := newAdminCmd("users list", "", groupAdmin, `List accounts in id order, a page at a time. Password hashes are never
shown, only their scheme: bcrypt for users imported from Rails who have not
signed in since, argon2id otherwise. A full page (--limit users) means more
may follow: list them with --after the last id.`)
	after := c.fs.Int64("after", 0, "list users with an id above `ID` (the next page)")
	limit := c.fs.Int("limit", 100, "list at most `N` users, 1 to 10000")
	asJSON := c.fs.Bool("json", false, "print a JSON array instead of a table")
	_, cfg, err := c.parse(args, getenv, stdout)
	if err != nil || cfg == nil {
		return err
	}
	if *limit < 1 || *limit > 10_000 {
		return usagef("users list: --limit must be between 1 and 10000")
	}
	a, err := openApp(ctx, cfg, stderr, true)
	if err != nil {
		return err
	}
	defer a.Close()
	users, err := a.svc.Users(ctx, *after, *limit)
	if err != nil {
		return adminError(c.name, err)
	}
	if *asJSON {
		// A script pages by count: a full page means more may follow.
		return printUsersJSON(stdout, users)
	}
	err = printUsersTable(stdout, users)
	if err == nil && len(users) == *limit {
		fmt.Fprintf(stdout, "more may follow: gatehouse users list --after %d\n", users[len(users)-1].ID)
	}
	return err
}

func printUsersJSON(w io.Writer, users []auth.User) error {
	type userJSON struct {
		ID             int64      `json:"id"`
		Email          string     `json:"email"`
		CreatedAt      time.Time  `json:"created_at"`
		UpdatedAt      time.Time  `json:"updated_at"`
		LockedAt       *time.Time `json:"locked_at"`
		PasswordScheme string     `json:"password_scheme"`
	}
	out := make([]userJSON, len(users))
	for i, u := range users {
		out[i] = userJSON{ID: u.ID, Email: u.Email, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, PasswordScheme: hashScheme(u.PasswordHash)}
		if u.Locked() {
			out[i].LockedAt = &users[i].LockedAt
		}
	}
	return printJSON(w, out)
}

func printUsersTable(w io.Writer, users []auth.User) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEMAIL\tCREATED\tLOCKED\tPASSWORD")
	for _, u := range users {
		locked := "-"
		if u.Locked() {
			locked = stamp(u.LockedAt)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", u.ID, u.Email, stamp(u.CreatedAt), locked, hashScheme(u.PasswordHash))
	}
	return tw.Flush()
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func hashScheme(h string) string {
	switch {
	case strings.HasPrefix(h, "$argon2id$"):
		return "argon2id"
	case strings.HasPrefix(h, "$2"):
		return "bcrypt"
	}
	return "unknown"
}

func runUsersLock(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := newAdminCmd("users lock", "USER", groupAdmin, `Lock an account: password sign-in is refused and every session is revoked
at once. The lock stays until 'gatehouse users unlock'.

`+sqliteNote)
	return c.onUser(ctx, args, getenv, stdout, stderr, func(svc *auth.Service, u *auth.User) error {
		if u.Locked() {
			fmt.Fprintf(stdout, "user %d (%s) has been locked since %s\n", u.ID, u.Email, stamp(u.LockedAt))
			return nil
		}
		if err := svc.LockUser(ctx, u.ID); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "locked user %d (%s): password sign-in refused, every session revoked\n", u.ID, u.Email)
		return nil
	})
}

func runUsersUnlock(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := newAdminCmd("users unlock", "USER", groupAdmin, `Unlock an account an administrator locked, and forget its failed sign-ins,
ending the account-wide back-off that unknown devices see. Failed sign-ins
never lock an account. Its old sessions stay revoked.

On SQLite a running server keeps its count of failed sign-ins in memory and
this command cannot clear it: the account may still be backed off for up to
an hour for devices its owner never signed in from.`)
	return c.onUser(ctx, args, getenv, stdout, stderr, func(svc *auth.Service, u *auth.User) error {
		// Even for an unlocked account this forgets its failed sign-ins.
		if err := svc.UnlockUser(ctx, u.ID); err != nil {
			return err
		}
		if !u.Locked() {
			fmt.Fprintf(stdout, "user %d (%s) was not locked; its failed sign-ins are forgotten\n", u.ID, u.Email)
			return nil
		}
		fmt.Fprintf(stdout, "unlocked user %d (%s)\n", u.ID, u.Email)
		return nil
	})
}

func runUsersDelete(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := newAdminCmd("users delete", "USER", groupAdmin, `Delete an account and all its sessions for good. Its id is never reused.
Asks for --yes, as there is no undo.

`+sqliteNote)
	yes := c.fs.Bool("yes", false, "really delete")
	return c.onUser(ctx, args, getenv, stdout, stderr, func(svc *auth.Service, u *auth.User) error {
		if !*yes {
			return usagef("users delete: this deletes user %d (%s) and all their sessions for good; add --yes to do it", u.ID, u.Email)
		}
		if err := svc.DeleteUser(ctx, u.ID); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "deleted user %d (%s)\n", u.ID, u.Email)
		return nil
	})
}

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

// adminCmd parses the command line of one administration command: its own
// flags and arguments, plus the groups of Config's settings it needs,
// registered by Config.register: their defaults, GATEHOUSE_* variables and
// checks are exactly serve's.
type adminCmd struct {
	name string // "users lock"
	arg  string // the one positional argument, "USER", or "" for none
	help string
	fs   *flag.FlagSet
	cfg  *Config
}

func newAdminCmd(name, arg string, groups flagGroup, help string) *adminCmd {
	c := &adminCmd{name: name, arg: arg, help: help, fs: newFlagSet(name), cfg: &Config{}}
	c.cfg.register(c.fs, groups)
	return c
}

// parse returns the positional arguments and the Config; both are nil
// when -h asked for the help, which it prints.
func (c *adminCmd) parse(args []string, getenv func(string) string, stdout io.Writer) ([]string, *Config, error) {
	if err := setFromEnv(c.fs, getenv); err != nil {
		return nil, nil, err
	}
	pos, err := parseInterspersed(c.fs, args)
	if errors.Is(err, flag.ErrHelp) {
		c.usage(stdout)
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, usagef("%s: %v (see 'gatehouse %s -h')", c.name, err, c.name)
	}
	switch {
	case c.arg == "" && len(pos) > 0:
		return nil, nil, usagef("%s: unexpected argument %q", c.name, pos[0])
	case c.arg != "" && len(pos) != 1:
		return nil, nil, usagef("%s: want one %s argument, got %d (see 'gatehouse %s -h')", c.name, c.arg, len(pos), c.name)
	}
	return pos, c.cfg, c.cfg.validate()
}

func (c *adminCmd) usage(w io.Writer) {
	printUsage(w, c.fs, fmt.Sprintf("Usage: gatehouse %s %s[flags]\n\n%s", c.name, c.arg+strings.Repeat(" ", min(len(c.arg), 1)), c.help))
}

// parseInterspersed parses flags before, between and after the positional
// arguments ("users lock 42 --db sqlite:x.db"), which flag.Parse alone
// stops at. Everything after "--" is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// withApp parses args, opens an existing database (openApp's mustExist)
// and runs fn with it and the positional arguments. After -h it only
// prints the help.
func (c *adminCmd) withApp(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, fn func(a *app, pos []string) error) error {
	pos, cfg, err := c.parse(args, getenv, stdout)
	if err != nil || cfg == nil {
		return err
	}
	a, err := openApp(ctx, cfg, stderr, true)
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(a, pos)
}

// onUser runs fn on the user named by the command's USER argument.
func (c *adminCmd) onUser(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, fn func(*auth.Service, *auth.User) error) error {
	return c.withApp(ctx, args, getenv, stdout, stderr, func(a *app, pos []string) error {
		u, err := a.svc.FindUser(ctx, pos[0])
		if errors.Is(err, auth.ErrNotFound) {
			if _, nerr := strconv.ParseInt(pos[0], 10, 64); nerr == nil {
				return fmt.Errorf("%s: no user with id %s", c.name, pos[0])
			}
			return fmt.Errorf("%s: no user with email %q", c.name, auth.NormalizeEmail(pos[0]))
		}
		if err == nil {
			err = fn(a.svc, u)
		}
		return adminError(c.name, err)
	})
}

// openApp opens the database and wires the service as serve does; the
// audit log goes to stderr. A command that only reads or changes what is
// there (mustExist) refuses a SQLite file that does not exist rather than
// create an empty one: a mistyped --db must not read as "no such user".
func openApp(ctx context.Context, cfg *Config, stderr io.Writer, mustExist bool) (*app, error) {
	if path, ok := strings.CutPrefix(cfg.DB, "sqlite:"); ok && mustExist && path != "" {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("--db: no database file %s (is the path right?)", path)
		}
	}
	cfg.issuesNoTokens = true
	log := newLogger(cfg, stderr)
	warnUnknownEnv(ctx, log)
	return buildApp(ctx, cfg, log)
}

// adminError makes err one line for the terminal: the message of an
// auth.Error, or its cause for an internal failure (the operator, unlike an
// API client, should see it).
func adminError(cmd string, err error) error {
	var u usageError
	var e *auth.Error
	switch {
	case err == nil, errors.As(err, &u):
		return err
	case errors.As(err, &e) && e.Err != nil:
		return fmt.Errorf("%s: %w", cmd, e.Err)
	case errors.As(err, &e):
		return fmt.Errorf("%s: %s", cmd, e.Message)
	}
	return fmt.Errorf("%s: %w", cmd, err)
}

// printJSON writes v as indented JSON: the --json output of the admin
// commands, meant for jq and for people alike.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
