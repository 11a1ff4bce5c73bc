package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/password"
)

func TestEnvValueErrorNamesVariableValueAndForm(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{name: "duration", env: map[string]string{"GATEHOUSE_ACCESS_TTL": "ten"}, want: `GATEHOUSE_ACCESS_TTL="ten": want a duration like 15m`},
		{name: "bool", env: map[string]string{"GATEHOUSE_COOKIE_SECURE": "yes please"}, want: `GATEHOUSE_COOKIE_SECURE="yes please": want true or false`},
		{name: "int", env: map[string]string{"GATEHOUSE_HASH_SLOTS": "four"}, want: `GATEHOUSE_HASH_SLOTS="four": want a whole number`},
		{name: "choice", env: map[string]string{"GATEHOUSE_TOKEN_ALG": "RS256"}, want: `GATEHOUSE_TOKEN_ALG="RS256": want HS256, EdDSA or ES256`},
		{name: "level", env: map[string]string{"GATEHOUSE_LOG_LEVEL": "loud"}, want: `GATEHOUSE_LOG_LEVEL="loud": want debug, info, warn or error`},
		{name: "sameSite", env: map[string]string{"GATEHOUSE_COOKIE_SAMESITE": "relaxed"}, want: `GATEHOUSE_COOKIE_SAMESITE="relaxed": want lax, strict or none`},
		{name: "proxies", env: map[string]string{"GATEHOUSE_TRUSTED_PROXIES": "lan"}, want: `GATEHOUSE_TRUSTED_PROXIES="lan": "lan" is not a CIDR`},
		{name: "addr", env: map[string]string{"GATEHOUSE_ADDR": "localhost"}, want: `GATEHOUSE_ADDR="localhost": want host:port`},
		{name: "migrateLogFormat", args: []string{"migrate"}, env: map[string]string{"GATEHOUSE_LOG_FORMAT": "xml"}, want: `GATEHOUSE_LOG_FORMAT="xml": want json or text`},
		{name: "keysRemoveTTL", args: []string{"keys", "remove", "k1"}, env: map[string]string{"GATEHOUSE_SESSION_TTL": "1 week"}, want: `GATEHOUSE_SESSION_TTL="1 week": want a duration`},
		{name: "flagNamesFlag", args: []string{"serve", "--access-ttl", "ten"}, want: `-access-ttl: want a duration like 15m`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := "sqlite:" + filepath.Join(t.TempDir(), "g.db")
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), append(tt.args, "--db", db), func(k string) string { return tt.env[k] }, noStdin, &stdout, &stderr)
			if exitStatus(err) != 2 || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run(%q) with %v: got %v (status %d), want status 2 and %q", tt.args, tt.env, err, exitStatus(err), tt.want)
			}
			if stdout.Len()+stderr.Len() > 0 {
				t.Errorf("run(%q): printed %q %q, want nothing but the error", tt.args, stdout.String(), stderr.String())
			}
		})
	}
}

// TestBadListenAddressTouchesNoDatabase: a listen address without a port is
// refused (exit 2, naming the flag) before the database is created.
func TestBadListenAddressTouchesNoDatabase(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "addrWithoutPort", args: []string{"--addr", "localhost"}, want: "-addr"},
		{name: "addrBadPort", args: []string{"--addr", "localhost:http"}, want: "-addr"},
		{name: "addrPortTooLarge", args: []string{"--addr", ":70000"}, want: "-addr"},
		{name: "metricsWithoutPort", args: []string{"--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1"}, want: "-metrics-addr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "g.db")
			err := run(context.Background(), append([]string{"serve", "--db", "sqlite:" + path}, tt.args...), noEnv, noStdin, io.Discard, io.Discard)
			if exitStatus(err) != 2 || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("serve %q: got %v, want exit 2 naming %s", tt.args, err, tt.want)
			}
			if _, serr := os.Stat(path); !errors.Is(serr, os.ErrNotExist) {
				t.Errorf("serve %q: database file exists (stat: %v), want it untouched", tt.args, serr)
			}
		})
	}
	for _, ok := range []string{":3000", "127.0.0.1:0", "[::1]:8080", "localhost:3000"} {
		if _, err := parseConfig("serve", []string{"--addr", ok}, noEnv, io.Discard); err != nil {
			t.Errorf("parseConfig(--addr %s): %v, want it accepted", ok, err)
		}
	}
}

// helpFlags runs 'gatehouse args… -h' and returns each flag it lists
// with its default and variable ("" for none).
func helpFlags(t *testing.T, args ...string) map[string][2]string {
	t.Helper()
	var out bytes.Buffer
	if err := run(context.Background(), append(args, "-h"), noEnv, noStdin, &out, &out); err != nil {
		t.Fatalf("gatehouse %s -h: %v", strings.Join(args, " "), err)
	}
	flags := map[string][2]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		rest, ok := strings.CutPrefix(line, "  --")
		if !ok {
			continue
		}
		name, notes, _ := strings.Cut(rest, "  (")
		name, _, _ = strings.Cut(name, " ")
		var def, env string
		for _, n := range strings.Split(strings.TrimSuffix(notes, ")"), ", ") {
			if d, ok := strings.CutPrefix(n, "default "); ok {
				def = d
			} else if e, ok := strings.CutPrefix(n, "env "); ok {
				env = e
			}
		}
		flags[name] = [2]string{def, env}
	}
	return flags
}

// commandsWithFlags are every command line that has flags.
var commandsWithFlags = [][]string{
	{"serve"}, {"migrate"},
	{"users", "create"}, {"users", "list"}, {"users", "lock"}, {"users", "unlock"}, {"users", "delete"}, {"users", "import"},
	{"users", "set-password"}, {"users", "send-reset"}, {"users", "mfa", "list"}, {"users", "mfa", "reset"}, {"mail", "list"}, {"mail", "retry"},
	{"sessions", "list"}, {"sessions", "revoke"}, {"sessions", "import-jwt-sessions"},
	{"keys", "list"}, {"keys", "add"}, {"keys", "activate"}, {"keys", "retire"}, {"keys", "remove"}, {"keys", "export-root"},
	{"bench"}, {"healthcheck"},
}

func TestHelpShowsOnlyTheCommandsFlags(t *testing.T) {
	tests := []struct {
		args    []string
		want    []string
		notWant []string
	}{
		{args: []string{"migrate"}, want: []string{"db", "log-level", "log-format"}, notWant: []string{"addr", "secret", "redis", "access-ttl"}},
		{args: []string{"users", "create"}, want: []string{"email", "password-stdin", "password-min-length", "db", "secret", "redis"}, notWant: []string{"addr", "cors-origins", "access-ttl"}},
		{args: []string{"users", "lock"}, want: []string{"db", "secret-file", "redis"}, notWant: []string{"password-min-length", "addr", "json"}},
		{args: []string{"keys", "remove"}, want: []string{"force", "session-ttl", "access-ttl", "secret"}, notWant: []string{"redis", "addr"}},
		{args: []string{"keys", "list"}, want: []string{"json", "db"}, notWant: []string{"session-ttl", "redis"}},
		{args: []string{"serve"}, want: []string{"addr", "metrics-addr", "db", "redis", "secret", "access-ttl", "log-format", "cookie-samesite"}, notWant: []string{"json", "email"}},
	}
	for _, tt := range tests {
		flags := helpFlags(t, tt.args...)
		for _, f := range tt.want {
			if _, ok := flags[f]; !ok {
				t.Errorf("gatehouse %s -h: no --%s in %v", strings.Join(tt.args, " "), f, slices.Sorted(mapKeys(flags)))
			} else if flags[f][1] == "" && !slices.Contains([]string{"email", "password-stdin", "force", "json"}, f) {
				t.Errorf("gatehouse %s -h: --%s shows no variable", strings.Join(tt.args, " "), f)
			}
		}
		for _, f := range tt.notWant {
			if _, ok := flags[f]; ok {
				t.Errorf("gatehouse %s -h: lists --%s, which it does not use", strings.Join(tt.args, " "), f)
			}
		}
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, noEnv, noStdin, &out, io.Discard); err != nil || !strings.Contains(out.String(), "Commands:") || strings.Contains(out.String(), "--addr") {
		t.Errorf("gatehouse --help: got %v %q, want the list of commands", err, out.String())
	}
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestUnknownEnvironmentVariableWarns(t *testing.T) {
	environ := []string{
		"GATEHOUSE_ACESS_TTL=1h", "GATEHOUSE_FROBNICATE=1", "GATEHOUSE_DB=sqlite:x.db", "GATEHOUSE_NEW_PASSWORD=x",
		"GATEHOUSE_TEST_POSTGRES_URL=postgres://x", "GATEHOUSE_TEST_STORE=redis", "GATEHOUSE_BENCH_REVOCATIONS=1", "HOME=/root",
	}
	ctx := withEnviron(context.Background(), environ)
	var stdout, stderr bytes.Buffer
	db := "sqlite:" + filepath.Join(t.TempDir(), "g.db")
	if err := run(ctx, []string{"migrate", "--db", db}, noEnv, noStdin, &stdout, &stderr); err != nil {
		t.Fatalf("migrate with unknown variables: %v, want success (a warning only)", err)
	}
	var warned []string
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		var rec struct{ Level, Msg string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Level != "WARN" {
			t.Fatalf("migrate stderr line %q: want a JSON warning (%v)", line, err)
		}
		warned = append(warned, rec.Msg)
	}
	want := []string{
		"unknown environment variable ignored: GATEHOUSE_ACESS_TTL (did you mean GATEHOUSE_ACCESS_TTL?)",
		"unknown environment variable ignored: GATEHOUSE_FROBNICATE",
	}
	if !slices.Equal(warned, want) {
		t.Errorf("migrate warnings:\n got %q\nwant %q", warned, want)
	}
}

func TestDurationsAreLoggedWithTheirUnit(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		var buf bytes.Buffer
		log := newLogger(&Config{LogFormat: format}, &buf)
		log.Info("shutting down", "timeout", 15*time.Second, slog.Group("g", "floor", 250*time.Millisecond))
		if out := buf.String(); !strings.Contains(out, "15s") || !strings.Contains(out, "250ms") || strings.Contains(out, "15000000000") {
			t.Errorf("log format %s: got %q, want durations as 15s and 250ms", format, out)
		}
	}
}

// TestServeFailureIsAJSONLogLine: with --log-format json, the error that
// stops serve is a log line too, and main prints nothing more.
func TestServeFailureIsAJSONLogLine(t *testing.T) {
	missing := "sqlite:" + filepath.Join(t.TempDir(), "no-such-folder", "g.db")
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--db", missing}, noEnv, noStdin, io.Discard, &stderr)
	if err == nil || !errors.As(err, new(loggedError)) {
		t.Fatalf("serve on a missing folder: got %v, want an error already logged", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("serve stderr line %q: not JSON", line)
		}
	}
	if !strings.Contains(stderr.String(), `"msg":"gatehouse stopped"`) || !strings.Contains(stderr.String(), "no-such-folder") {
		t.Errorf("serve stderr: got %q, want the failure as a log line", stderr.String())
	}
}

// TestAdminHumanOutputOnStdoutAuditOnStderr: what a person reads goes to
// stdout; the audit lines only to the log, as JSON.
func TestAdminHumanOutputOnStdoutAuditOnStderr(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "g.db")
	env := func(k string) string { return map[string]string{"GATEHOUSE_NEW_PASSWORD": cliPassword}[k] }
	for _, args := range [][]string{
		{"users", "create", "--email", "audit@example.com"},
		{"users", "lock", "audit@example.com"},
		{"users", "unlock", "audit@example.com"},
	} {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), append(args, "--db", db), env, noStdin, &stdout, &stderr); err != nil {
			t.Fatalf("gatehouse %s: %v", strings.Join(args, " "), err)
		}
		if out := stdout.String(); strings.Contains(out, "{") || !strings.Contains(out, "audit@example.com") {
			t.Errorf("gatehouse %s stdout: got %q, want one line for a person", strings.Join(args, " "), out)
		}
		var audits int
		for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
			var rec struct{ Msg string }
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Errorf("gatehouse %s stderr line %q: not JSON", strings.Join(args, " "), line)
			}
			if rec.Msg == "audit" {
				audits++
			}
		}
		if audits == 0 {
			t.Errorf("gatehouse %s: no audit line on stderr (got %q)", strings.Join(args, " "), stderr.String())
		}
	}
}

// TestConfigDocsMatchFlags: docs/config.md lists every flag of every
// command, with the default and variable the command's -h shows, and for
// each setting the commands that take it.
func TestConfigDocsMatchFlags(t *testing.T) {
	raw, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	type setting struct{ def, env, commands string }
	docSettings, docCmdFlags := map[string]setting{}, map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		switch {
		case len(cells) == 5 && strings.HasPrefix(cells[0], "`--"):
			docSettings[strings.Trim(cells[0], "`-")] = setting{docDefault(cells[2]), strings.Trim(cells[1], "`"), cells[3]}
		case len(cells) == 4 && strings.HasPrefix(cells[1], "`--"):
			docCmdFlags[cells[0]+" --"+strings.Trim(cells[1], "`-")] = docDefault(cells[2])
		}
	}

	gotSettings, gotCmdFlags := map[string]setting{}, map[string]string{}
	takenBy := map[string][]string{}
	for _, args := range commandsWithFlags {
		cmd := strings.Join(args, " ")
		for name, f := range helpFlags(t, args...) {
			if f[1] == "" {
				gotCmdFlags[cmd+" --"+name] = f[0]
				continue
			}
			if s, ok := gotSettings[name]; ok && (s.def != f[0] || s.env != f[1]) {
				t.Errorf("--%s: default %q and variable %s in %s, but %q and %s elsewhere", name, f[0], f[1], cmd, s.def, s.env)
			}
			gotSettings[name] = setting{def: f[0], env: f[1]}
			takenBy[name] = append(takenBy[name], cmd)
		}
	}
	for name, cmds := range takenBy {
		s := gotSettings[name]
		s.commands = commandsCell(cmds)
		gotSettings[name] = s
	}
	for name, got := range gotSettings {
		if doc, ok := docSettings[name]; !ok {
			t.Errorf("docs/config.md: no row for --%s (default %q, %s, commands %s)", name, got.def, got.env, got.commands)
		} else if doc != got {
			t.Errorf("docs/config.md --%s: got default %q, %s, commands %q in the docs; the commands say %q, %s, %q",
				name, doc.def, doc.env, doc.commands, got.def, got.env, got.commands)
		}
	}
	for name := range docSettings {
		if _, ok := gotSettings[name]; !ok {
			t.Errorf("docs/config.md documents --%s, which no command takes", name)
		}
	}
	for key, got := range gotCmdFlags {
		if doc, ok := docCmdFlags[key]; !ok {
			t.Errorf("docs/config.md: no row for %s (default %q)", key, got)
		} else if doc != got && !(doc == "GOMAXPROCS" && got == strconv.Itoa(password.DefaultSlots())) {
			t.Errorf("docs/config.md %s: default %q in the docs, %q in -h", key, doc, got)
		}
	}
	for key := range docCmdFlags {
		if _, ok := gotCmdFlags[key]; !ok {
			t.Errorf("docs/config.md documents %s, which does not exist", key)
		}
	}
}

// docDefault reads a default cell: the first code span, or "" for prose
// such as "(none)"; false and 0, which -h does not show, read as "".
func docDefault(cell string) string {
	if cell == "GOMAXPROCS" {
		return cell
	}
	code, ok := strings.CutPrefix(cell, "`")
	if !ok {
		return ""
	}
	code, _, _ = strings.Cut(code, "`")
	if code == "false" || code == "0" {
		return ""
	}
	return code
}

// commandsCell writes cmds as docs/config.md's commands column does: a
// command group whose every subcommand takes the setting by its own name.
func commandsCell(cmds []string) string {
	var out []string
	for _, args := range commandsWithFlags {
		cmd := strings.Join(args, " ")
		if !slices.Contains(cmds, cmd) {
			continue
		}
		all := true
		for _, other := range commandsWithFlags {
			if other[0] == args[0] && !slices.Contains(cmds, strings.Join(other, " ")) {
				all = false
			}
		}
		if all {
			cmd = args[0]
		}
		if !slices.Contains(out, cmd) {
			out = append(out, cmd)
		}
	}
	return strings.Join(out, ", ")
}
