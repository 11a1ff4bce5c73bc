// Command gatehouse is the Gatehouse authentication and session service.
// main only wires: run is the whole program, and end-to-end tests call it
// directly.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(withEnviron(ctx, os.Environ()), os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.As(err, new(loggedError)) {
			fmt.Fprintf(os.Stderr, "gatehouse: %v\n", err)
		}
		var u usageError
		if errors.As(err, &u) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError is a mistake on the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return usageError{msg: fmt.Sprintf(format, args...)}
}

// run dispatches a subcommand. With no arguments it serves. stdin is the
// standard input of the commands that read one (passwords with
// --password-stdin, users import -); nothing else touches os.Stdin.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) == 1 && (args[0] == "--version" || args[0] == "-version") {
		args = []string{"version"}
	}
	if len(args) == 1 && isHelp(args[0]) {
		args = []string{"help"}
	}
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return runServe(ctx, args, getenv, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, args, getenv, stdout, stderr)
	case "users":
		return runUsers(ctx, args, getenv, stdin, stdout, stderr)
	case "sessions":
		return runSessions(ctx, args, getenv, stdout, stderr)
	case "mail":
		return runMail(ctx, args, getenv, stdout, stderr)
	case "keys":
		return runKeys(ctx, args, getenv, stdout, stderr)
	case "service-tokens":
		return runServiceTokens(ctx, args, getenv, stdout, stderr)
	case "bench":
		return runBench(ctx, args, stdout, stderr)
	case "bench-baseline": // hidden: the baseline server gatehouse bench starts
		return runBenchBaseline(ctx, args, stdout, stderr)
	case "healthcheck":
		return runHealthcheck(ctx, args, getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, readBuildInfo())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usageText)
		return nil
	}
	return usagef("unknown command %q (try 'gatehouse help')", cmd)
}

const usageText = `Usage: gatehouse [command] [flags]

Commands:
  serve        run the service (the default)
  migrate      apply database migrations and exit
  users        manage accounts: create, list, lock, unlock, delete, import
  sessions     list and revoke sessions
  mail         inspect the mail outbox: list, retry
  keys         rotate the keys that sign access tokens: list, add, activate, retire, remove
  service-tokens  credentials of services following the revocation stream: create, list, revoke
  bench        measure throughput and latency on this machine (loopback only)
  healthcheck  exit 0 if the local server answers /healthz (for container health checks)
  version      print the version, commit and Go version (also --version)
  help         show this text

Run 'gatehouse COMMAND -h' for its flags: each command takes only the flags
that matter to it, and each of those also reads GATEHOUSE_<NAME> (for example
--db and GATEHOUSE_DB). Flags win over the environment. See docs/config.md.
`
