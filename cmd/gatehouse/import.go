package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/railsimport"
)

const importHelp = `Import the users of the Rails app from an export of its users table, keeping
their ids so that the app's other tables still match user_id. Users sign in
with their old password; their bcrypt digest is replaced by an argon2id hash
at that first sign-in.

FILE is a CSV file with a header row naming the columns id, email,
password_digest (Devise: encrypted_password) and optionally created_at, in any
order, other columns ignored; or JSON Lines, one object per line with those
keys. "-" reads standard input. For example, from PostgreSQL:

  psql "$DATABASE_URL" -c "\copy users (id, email, password_digest, created_at) TO users.csv CSV HEADER"

Every row is checked: a positive id, a valid email, a bcrypt ($2a$, $2b$,
$2y$) or argon2id digest, and a created_at in RFC 3339 or Rails'
"2006-01-02 15:04:05" (UTC; empty means now). Bad rows are listed on stderr
as "line N: reason" and skipped; a row whose id or email belongs to another
user is a conflict and skipped too. A user already imported with the same id
and email is left unchanged (its password is not overwritten), so running
an import again is safe. The exit status is 1 if any row was skipped.`

func runUsersImport(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	c := newAdminCmd("users import", "FILE", groupAdmin, importHelp)
	format := c.fs.String("format", "", "csv or jsonl (default: from FILE's extension, .csv, .jsonl or .ndjson)")
	pos, cfg, err := c.parse(args, getenv, stdout)
	if err != nil || cfg == nil {
		return err
	}
	name := pos[0]
	f, err := importFormat(*format, name)
	if err != nil {
		return err
	}
	in, size, err := openImport(name, stdin)
	if err != nil {
		return fmt.Errorf("users import: %w", err)
	}
	defer in.Close()
	a, err := openApp(ctx, cfg, stderr, false)
	if err != nil {
		return err
	}
	defer a.Close()

	log := newLogger(cfg, stderr)
	p := newProgress(stderr, log, size)
	rep, err := railsimport.Import(ctx, a.svc, in, f, auth.ImportOptions{Progress: p.update})
	p.clear()
	if rep != nil && rep.Rows() > 0 {
		if aerr := analyze(ctx, a.store); aerr != nil {
			log.Warn("users import: updating statistics", "err", aerr)
		}
	}
	if name == "-" {
		name = "standard input"
	}
	if err == nil || rep.Rows() > 0 {
		printImportReport(stdout, rep)
	}
	switch {
	case err != nil && rep.Rows() > 0:
		return fmt.Errorf("users import: %s: %w (the rows before were imported; running the import again is safe)", name, err)
	case err != nil:
		return fmt.Errorf("users import: %s: %w", name, err)
	case rep.Conflicts+rep.Invalid > 0:
		return fmt.Errorf("users import: %d of %d rows were not imported (listed above)", rep.Conflicts+rep.Invalid, rep.Rows())
	}
	return nil
}

// importFormat is --format, or else what the file name says.
func importFormat(flagValue, name string) (railsimport.Format, error) {
	switch strings.ToLower(flagValue) {
	case "csv":
		return railsimport.CSV, nil
	case "jsonl", "ndjson":
		return railsimport.JSONL, nil
	case "":
	default:
		return "", usagef("users import: --format must be csv or jsonl, not %q", flagValue)
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv":
		return railsimport.CSV, nil
	case ".jsonl", ".ndjson":
		return railsimport.JSONL, nil
	}
	if name == "-" {
		return "", usagef("users import: reading standard input needs --format csv or --format jsonl")
	}
	return "", usagef("users import: cannot tell the format of %s from its name: add --format csv or --format jsonl", name)
}

// openImport opens FILE, or standard input for "-". size is the file's
// size, or 0 when unknown.
func openImport(name string, stdin io.Reader) (io.ReadCloser, int64, error) {
	if name == "-" {
		return io.NopCloser(stdin), 0, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if st.IsDir() {
		f.Close()
		return nil, 0, fmt.Errorf("%s is a directory", name)
	}
	return f, st.Size(), nil
}

// printImportReport writes the skipped rows and the summary for the person
// who ran the import: on stdout, as stderr is the log.
func printImportReport(stdout io.Writer, rep *auth.ImportReport) {
	printProblems(stdout, rep.Problems, rep.Conflicts+rep.Invalid)
	fmt.Fprintf(stdout, "imported: %d inserted, %d unchanged, %d conflicts, %d invalid in %s (%.0f rows/s)\n",
		rep.Inserted, rep.Unchanged, rep.Conflicts, rep.Invalid, rep.Elapsed.Round(time.Millisecond), rate(rep.Rows(), rep.Elapsed))
}

// printProblems lists an import's skipped rows, of which the report kept
// the first ones, and says how many more there were.
func printProblems[P any](w io.Writer, problems []P, total int64) {
	for _, p := range problems {
		fmt.Fprintln(w, p)
	}
	if more := total - int64(len(problems)); more > 0 {
		fmt.Fprintf(w, "… and %d more\n", more)
	}
}

func rate(rows int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(rows) / d.Seconds()
}

// progress shows how far an import of a file has got: on a terminal, one
// line on stderr rewritten in place at most twice a second; otherwise a log
// line every few seconds; nothing when the size is unknown.
type progress struct {
	w     io.Writer
	log   *slog.Logger
	size  int64
	tty   bool
	every time.Duration
	last  time.Duration // Elapsed when the last line was written
	width int           // of the line on the terminal, to clear it
}

func newProgress(w io.Writer, log *slog.Logger, size int64) *progress {
	p := &progress{w: w, log: log, size: size, tty: isTerminal(w), every: 5 * time.Second}
	if p.tty {
		p.every = 500 * time.Millisecond
	}
	return p
}

func (p *progress) update(ip auth.ImportProgress) {
	if p.size <= 0 || ip.Elapsed-p.last < p.every {
		return
	}
	p.last = ip.Elapsed
	percent := min(100, 100*ip.Bytes/p.size)
	if !p.tty {
		p.log.Info("importing", "rows", ip.Rows, "percent", percent, "rows_per_s", int64(rate(ip.Rows, ip.Elapsed)))
		return
	}
	line := fmt.Sprintf("importing: %d rows, %d%% of %s, %.0f rows/s", ip.Rows, percent, byteSize(p.size), rate(ip.Rows, ip.Elapsed))
	fmt.Fprintf(p.w, "\r%-*s", p.width, line)
	p.width = len(line)
}

// clear removes the progress line from a terminal.
func (p *progress) clear() {
	if p.width > 0 {
		fmt.Fprintf(p.w, "\r%*s\r", p.width, "")
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
