package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// settingValue is one setting of Config as a flag.Value: its text is parsed as it
// is set, so a bad flag and a bad variable are refused alike, naming the
// form they want.
type settingValue[T any] struct {
	p      *T
	kind   string // the help's placeholder: duration, int, string, …
	parse  func(string) (T, error)
	text   string
	isBool bool
	env    string // set by registrar.add
}

func (v *settingValue[T]) Set(s string) error {
	t, err := v.parse(s)
	if err != nil {
		return err
	}
	*v.p, v.text = t, s
	return nil
}

func (v *settingValue[T]) String() string      { return v.text }
func (v *settingValue[T]) IsBoolFlag() bool    { return v.isBool }
func (v *settingValue[T]) envName() string     { return v.env }
func (v *settingValue[T]) placeholder() string { return v.kind }

func parsedVar[T any](p *T, kind string, parse func(string) (T, error)) *settingValue[T] {
	return &settingValue[T]{p: p, kind: kind, parse: parse}
}

func stringVar(p *string) *settingValue[string] {
	return parsedVar(p, "string", func(s string) (string, error) { return s, nil })
}

func durationVar(p *time.Duration) *settingValue[time.Duration] {
	return parsedVar(p, "duration", func(s string) (time.Duration, error) {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, errors.New("want a duration like 15m, 90s or 1h30m")
		}
		return d, nil
	})
}

func intVar(p *int) *settingValue[int] {
	return parsedVar(p, "int", func(s string) (int, error) {
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, errors.New("want a whole number")
		}
		return n, nil
	})
}

func boolVar(p *bool) *settingValue[bool] {
	v := parsedVar(p, "bool", func(s string) (bool, error) {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return false, errors.New("want true or false")
		}
		return b, nil
	})
	v.isBool = true
	return v
}

// choiceVar accepts one of choices, exactly as spelled.
func choiceVar(p *string, choices ...string) *settingValue[string] {
	return parsedVar(p, "string", func(s string) (string, error) {
		if !slices.Contains(choices, s) {
			return "", fmt.Errorf("want %s", orList(choices))
		}
		return s, nil
	})
}

func orList(s []string) string {
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if s == "" || l.UnmarshalText([]byte(s)) != nil {
		return 0, errors.New("want debug, info, warn or error")
	}
	return l, nil
}

// hostPortVar takes a listen address. It is checked before anything is
// opened: "localhost" alone would otherwise fail only at net.Listen, after
// the database was migrated and the secret read.
func hostPortVar(p *string, optional bool) *settingValue[string] {
	return parsedVar(p, "host:port", func(s string) (string, error) {
		if s == "" && optional {
			return s, nil
		}
		_, port, err := net.SplitHostPort(s)
		if _, perr := strconv.ParseUint(port, 10, 16); err != nil || perr != nil {
			return "", errors.New("want host:port or :port, like localhost:3000 or :3000")
		}
		return s, nil
	})
}

// registrar registers the flags of some groups; every setting gets its
// default whether or not its flag is registered.
type registrar struct {
	fs     *flag.FlagSet
	groups flagGroup
}

// setting is a settingValue[T] of any T.
type setting interface {
	flag.Value
	envName() string
	setEnv(string)
	placeholder() string
}

func (v *settingValue[T]) setEnv(name string) { v.env = name }

func (r registrar) add(g flagGroup, name, def, usage string, v setting) {
	if err := v.Set(def); err != nil {
		panic(fmt.Sprintf("flag --%s: default %q: %v", name, def, err))
	}
	if r.groups&g != 0 {
		v.setEnv(envName(name))
		r.fs.Var(v, name, usage)
	}
}

// envName is the variable that sets flag name.
func envName(flagName string) string {
	return "GATEHOUSE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// newFlagSet makes a command's flag set: errors come back to the caller as
// one line and -h to the caller to print (printUsage).
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("gatehouse "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// setFromEnv sets each flag of fs that has a variable from it. A value
// that does not parse names the variable, the value and the form wanted.
func setFromEnv(fs *flag.FlagSet, getenv func(string) string) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		s, ok := f.Value.(setting)
		if !ok || err != nil {
			return
		}
		if v := getenv(s.envName()); v != "" {
			if serr := s.Set(v); serr != nil {
				err = usagef("%s=%q: %v", s.envName(), v, serr)
			}
		}
	})
	return err
}

// printUsage writes header, then one entry per flag of fs: the flag, its
// default and variable on the first line (docs/config.md's test reads
// them), what it does on the next.
func printUsage(w io.Writer, fs *flag.FlagSet, header string) {
	fmt.Fprintf(w, "%s\n\nFlags:\n", strings.TrimRight(header, "\n"))
	fs.VisitAll(func(f *flag.Flag) {
		kind, usage := flag.UnquoteUsage(f)
		var env string
		if s, ok := f.Value.(setting); ok {
			kind, env = s.placeholder(), s.envName()
		}
		line := "  --" + f.Name
		if kind != "" && kind != "bool" {
			line += " " + kind
		}
		var notes []string
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
			notes = append(notes, "default "+f.DefValue)
		}
		if env != "" {
			notes = append(notes, "env "+env)
		}
		if len(notes) > 0 {
			line += "  (" + strings.Join(notes, ", ") + ")"
		}
		fmt.Fprintf(w, "%s\n      %s\n", line, usage)
	})
}

// Variables that are no setting but are read by name: users create's
// password, and the test and benchmark harnesses' own (never warned about).
var (
	otherEnv        = []string{"GATEHOUSE_NEW_PASSWORD"}
	harnessPrefixes = []string{"GATEHOUSE_TEST_", "GATEHOUSE_BENCH_"}
)

// environKey carries the process environment from main, for the warning
// about unknown variables; run's getenv can only look names up.
type environKey struct{}

func withEnviron(ctx context.Context, environ []string) context.Context {
	return context.WithValue(ctx, environKey{}, environ)
}

// unknownEnv lists the GATEHOUSE_* variables of ctx's environment that no
// command reads, each with the closest known name when one is near: a
// mistyped GATEHOUSE_ACESS_TTL must not be silently ignored.
func unknownEnv(ctx context.Context) []string {
	environ, _ := ctx.Value(environKey{}).([]string)
	if len(environ) == 0 {
		return nil
	}
	known := knownEnv()
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "GATEHOUSE_") || slices.Contains(known, name) ||
			slices.ContainsFunc(harnessPrefixes, func(p string) bool { return strings.HasPrefix(name, p) }) {
			continue
		}
		msg := name
		if near := closest(name, known); near != "" {
			msg += " (did you mean " + near + "?)"
		}
		out = append(out, msg)
	}
	return out
}

// warnUnknownEnv logs unknownEnv; a warning, never an error, so a variable
// a newer version reads does not stop an older one.
func warnUnknownEnv(ctx context.Context, log *slog.Logger) {
	for _, u := range unknownEnv(ctx) {
		log.Warn("unknown environment variable ignored: " + u)
	}
}

func knownEnv() []string {
	fs := newFlagSet("env")
	new(Config).register(fs, groupAll)
	names := slices.Clone(otherEnv)
	fs.VisitAll(func(f *flag.Flag) { names = append(names, envName(f.Name)) })
	return names
}

// closest is the known name within two edits of name, or "".
func closest(name string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(name, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of two ASCII names.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
