package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// cli runs the real run with args against db and returns what it printed.
type cli struct {
	t   *testing.T
	db  string
	env map[string]string
}

func newCLI(t *testing.T) *cli {
	return &cli{t: t, db: "sqlite:" + filepath.Join(t.TempDir(), "g.db"), env: map[string]string{}}
}

func (c *cli) run(args ...string) (stdout, stderr string, err error) {
	c.t.Helper()
	return c.runInput("", args...)
}

// runInput is run with input as the standard input.
func (c *cli) runInput(input string, args ...string) (stdout, stderr string, err error) {
	c.t.Helper()
	var out, errOut bytes.Buffer
	args = append(args, "--db", c.db, "--log-level", "warn")
	err = run(context.Background(), args, func(k string) string { return c.env[k] }, strings.NewReader(input), &out, &errOut)
	return out.String(), errOut.String(), err
}

// mustRun runs args and fails the test unless they succeed.
func (c *cli) mustRun(args ...string) string {
	c.t.Helper()
	out, errOut, err := c.run(args...)
	if err != nil {
		c.t.Fatalf("gatehouse %s: %v\nstderr: %s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// app opens the CLI's database as a server would, for setting up users
// and sessions and checking what the commands did.
func (c *cli) app() *app {
	c.t.Helper()
	args := []string{"--db", c.db, "--rate-limit=false"}
	if isPostgres(c.db) { // servers on PostgreSQL must be given the root secret
		args = append(args, "--secret", "cli-test-root-secret-0123456789abcdef")
	}
	cfg, err := parseConfig("test", args, func(string) string { return "" }, io.Discard)
	if err != nil {
		c.t.Fatal(err)
	}
	a, err := buildApp(context.Background(), cfg, newLogger(cfg, io.Discard))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { a.Close() })
	return a
}

// exitStatus is what main would exit with for err.
func exitStatus(err error) int {
	var u usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &u):
		return 2
	}
	return 1
}

const cliPassword = "correct horse battery"

func TestUsersCommands(t *testing.T) {
	c := newCLI(t)
	c.env["GATEHOUSE_NEW_PASSWORD"] = cliPassword
	if out := c.mustRun("users", "create", "--email", "Ops@Example.com"); out != "created user 1 (ops@example.com)\n" {
		t.Errorf("users create: got %q", out)
	}
	a := c.app()
	ctx := context.Background()
	g, err := a.svc.SignIn(ctx, auth.Credentials{Email: "ops@example.com", Password: cliPassword})
	if err != nil {
		t.Fatalf("SignIn(created user) = %v", err)
	}

	out := c.mustRun("users", "list")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.Contains(lines[1], "ops@example.com") || !strings.HasSuffix(lines[1], "argon2id") {
		t.Errorf("users list: got %q, want a header and ops@example.com with argon2id", out)
	}
	if out := c.mustRun("users", "list", "--json"); !strings.Contains(out, `"email": "ops@example.com"`) || !strings.Contains(out, `"locked_at": null`) {
		t.Errorf("users list --json: got %q", out)
	}
	if out := c.mustRun("sessions", "list", "ops@example.com"); !strings.Contains(out, g.SessionID) {
		t.Errorf("sessions list: got %q, want session %s", out, g.SessionID)
	}

	c.mustRun("users", "lock", "1")
	if _, err := a.svc.Refresh(ctx, auth.RefreshRequest{RefreshToken: g.RefreshToken}); !errors.Is(err, auth.ErrNotAuthorized) {
		t.Errorf("Refresh after users lock: got %v, want ErrNotAuthorized", err)
	}
	if _, err := a.svc.SignIn(ctx, auth.Credentials{Email: "ops@example.com", Password: cliPassword}); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Errorf("SignIn after users lock: got %v, want ErrInvalidCredentials", err)
	}
	if out := c.mustRun("users", "lock", "ops@example.com"); !strings.Contains(out, "has been locked since") {
		t.Errorf("users lock (locked): got %q", out)
	}
	c.mustRun("users", "unlock", "ops@example.com")
	g, err = a.svc.SignIn(ctx, auth.Credentials{Email: "ops@example.com", Password: cliPassword})
	if err != nil {
		t.Fatalf("SignIn after users unlock = %v", err)
	}

	if out := c.mustRun("sessions", "revoke", g.SessionID); out != "revoked session "+g.SessionID+"\n" {
		t.Errorf("sessions revoke: got %q", out)
	}
	if _, err := a.svc.Refresh(ctx, auth.RefreshRequest{RefreshToken: g.RefreshToken}); !errors.Is(err, auth.ErrNotAuthorized) {
		t.Errorf("Refresh after sessions revoke: got %v, want ErrNotAuthorized", err)
	}

	c.mustRun("users", "delete", "ops@example.com", "--yes")
	if _, err := a.svc.FindUser(ctx, "1"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("FindUser after users delete: got %v, want ErrNotFound", err)
	}
}

func TestUsersCreate_PasswordFromStdin(t *testing.T) {
	c := newCLI(t)
	var out bytes.Buffer
	args := []string{"create", "--email", "stdin@example.com", "--password-stdin", "--db", c.db}
	err := runUsers(context.Background(), args, func(string) string { return "" }, strings.NewReader(cliPassword+"\r\nignored\n"), &out, io.Discard)
	if err != nil {
		t.Fatalf("users create --password-stdin: %v", err)
	}
	if _, err := c.app().svc.SignIn(context.Background(), auth.Credentials{Email: "stdin@example.com", Password: cliPassword}); err != nil {
		t.Errorf("SignIn with the password given on stdin: %v", err)
	}
}

// TestAdminErrors: each mistake is one line on stderr and the right exit
// status; nothing else is printed.
func TestAdminErrors(t *testing.T) {
	c := newCLI(t)
	c.env["GATEHOUSE_NEW_PASSWORD"] = cliPassword
	c.mustRun("users", "create", "--email", "someone@example.com")
	tests := []struct {
		name   string
		args   []string
		env    map[string]string
		status int
		want   string
	}{
		{name: "noUsersCommand", args: []string{"users"}, status: 2, want: "users: missing command"},
		{name: "unknownUsersCommand", args: []string{"users", "frob"}, status: 2, want: `unknown command "frob"`},
		{name: "noSessionsCommand", args: []string{"sessions"}, status: 2, want: "sessions: missing command"},
		{name: "lockWithoutUser", args: []string{"users", "lock"}, status: 2, want: "want one USER argument, got 0"},
		{name: "lockTwoUsers", args: []string{"users", "lock", "1", "2"}, status: 2, want: "got 2"},
		{name: "unknownFlag", args: []string{"users", "list", "--bogus"}, status: 2, want: "flag provided but not defined: -bogus"},
		{name: "serveOnlyFlag", args: []string{"users", "list", "--addr", ":1"}, status: 2, want: "not defined: -addr"},
		{name: "badLimit", args: []string{"users", "list", "--limit", "0"}, status: 2, want: "--limit must be between 1 and 10000"},
		{name: "listArgument", args: []string{"users", "list", "extra"}, status: 2, want: `unexpected argument "extra"`},
		{name: "createNoEmail", args: []string{"users", "create"}, status: 2, want: "--email is required"},
		{name: "createNoPassword", args: []string{"users", "create", "--email", "x@example.com"}, env: map[string]string{"GATEHOUSE_NEW_PASSWORD": ""}, status: 2, want: "give the password"},
		{name: "createInvalid", args: []string{"users", "create", "--email", "nope"}, status: 1, want: "users create: Email is invalid"},
		{name: "createTaken", args: []string{"users", "create", "--email", "someone@example.com"}, status: 1, want: "Email has already been taken"},
		{name: "createMinLength", args: []string{"users", "create", "--email", "x@example.com", "--password-min-length", "40"}, status: 1, want: "minimum is 40 characters"},
		{name: "deleteWithoutYes", args: []string{"users", "delete", "1"}, status: 2, want: "add --yes"},
		{name: "lockUnknownID", args: []string{"users", "lock", "99"}, status: 1, want: "users lock: no user with id 99"},
		{name: "unlockUnknownEmail", args: []string{"users", "unlock", "No@Example.com"}, status: 1, want: `no user with email "no@example.com"`},
		{name: "sessionsUnknownUser", args: []string{"sessions", "list", "7"}, status: 1, want: "no user with id 7"},
		{name: "revokeUnknown", args: []string{"sessions", "revoke", "nope"}, status: 1, want: `no session "nope"`},
		{name: "badEnv", args: []string{"users", "list"}, env: map[string]string{"GATEHOUSE_RATE_LIMIT": "many"}, status: 2, want: `GATEHOUSE_RATE_LIMIT="many": want true or false`},
		// users list reads only the variables of the settings it takes.
		{name: "serveOnlyEnvIgnored", args: []string{"users", "lock", "99"}, env: map[string]string{"GATEHOUSE_PASSWORD_MIN_LENGTH": "many"}, status: 1, want: "no user with id 99"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				old := c.env[k]
				c.env[k] = v
				defer func() { c.env[k] = old }()
			}
			out, errOut, err := c.run(tt.args...)
			if got := exitStatus(err); got != tt.status || err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("gatehouse %s: got status %d, %v; want status %d, one line containing %q", strings.Join(tt.args, " "), got, err, tt.status, tt.want)
			}
			if out != "" || errOut != "" {
				t.Errorf("gatehouse %s printed stdout %q stderr %q, want nothing but the error", strings.Join(tt.args, " "), out, errOut)
			}
		})
	}
}

func TestAdmin_MissingDatabase(t *testing.T) {
	for _, args := range [][]string{{"users", "list"}, {"users", "lock", "1"}, {"sessions", "revoke", "x"}} {
		db := filepath.Join(t.TempDir(), "typo.db")
		var out bytes.Buffer
		err := run(context.Background(), append(args, "--db", "sqlite:"+db), func(string) string { return "" }, noStdin, &out, io.Discard)
		if exitStatus(err) != 1 || err == nil || !strings.Contains(err.Error(), "no database file") {
			t.Errorf("gatehouse %s on a missing file: got %v, want status 1 and 'no database file'", strings.Join(args, " "), err)
		}
	}
}

func TestAdminHelp(t *testing.T) {
	commands := [][]string{
		{"users"}, {"sessions"},
		{"users", "create"}, {"users", "list"}, {"users", "lock"}, {"users", "unlock"},
		{"users", "delete"}, {"users", "import"}, {"sessions", "list"}, {"sessions", "revoke"},
	}
	for _, cmd := range commands {
		for _, h := range []string{"-h", "--help"} {
			var out bytes.Buffer
			err := run(context.Background(), append(slices.Clone(cmd), h), func(string) string { return "" }, noStdin, &out, io.Discard)
			if err != nil || !strings.Contains(out.String(), "Usage: gatehouse "+strings.Join(cmd, " ")) {
				t.Errorf("gatehouse %s %s: got %v, %q; want the usage on stdout", strings.Join(cmd, " "), h, err, out.String())
			}
		}
	}
	var out bytes.Buffer
	run(context.Background(), []string{"help"}, nil, noStdin, &out, io.Discard)
	if !strings.Contains(out.String(), "users") || !strings.Contains(out.String(), "sessions") {
		t.Errorf("gatehouse help: got %q, want the users and sessions commands", out.String())
	}
}

func TestParseInterspersed(t *testing.T) {
	tests := []struct {
		args    []string
		wantPos []string
		wantYes bool
	}{
		{args: []string{"42"}, wantPos: []string{"42"}},
		{args: []string{"--yes", "42"}, wantPos: []string{"42"}, wantYes: true},
		{args: []string{"42", "--yes"}, wantPos: []string{"42"}, wantYes: true},
		{args: []string{"a", "--yes", "b"}, wantPos: []string{"a", "b"}, wantYes: true},
		{args: []string{"-"}, wantPos: []string{"-"}},
		{args: []string{"--", "--yes", "x"}, wantPos: []string{"--yes", "x"}},
		{args: []string{"a", "--", "--yes"}, wantPos: []string{"a", "--yes"}},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		yes := fs.Bool("yes", false, "")
		pos, err := parseInterspersed(fs, tt.args)
		if err != nil || !slices.Equal(pos, tt.wantPos) || *yes != tt.wantYes {
			t.Errorf("parseInterspersed(%q) = %q, yes=%v, %v; want %q, yes=%v", tt.args, pos, *yes, err, tt.wantPos, tt.wantYes)
		}
	}
}

func TestPrintable(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{in: "", max: 60, want: "-"},
		{in: "Mozilla/5.0 (X11)", max: 60, want: "Mozilla/5.0 (X11)"},
		{in: "evil\tcolumn\x1b[2J", max: 60, want: "evil?column?[2J"},
		{in: "ééééé", max: 3, want: "ééé…"},
	}
	for _, tt := range tests {
		if got := printable(tt.in, tt.max); got != tt.want {
			t.Errorf("printable(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}
