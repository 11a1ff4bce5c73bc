package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authtest"
	"github.com/gatehouse/gatehouse/internal/railsimport"
)

// writeFile writes content to name in a fresh directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// summary is the last line of users import's stdout, after the skipped rows.
var summary = regexp.MustCompile(`(?m)^imported: (\d+) inserted, (\d+) unchanged, (\d+) conflicts, (\d+) invalid in \S+ \(\d+ rows/s\)\n\z`)

// TestUsersImport runs the real command on a Rails export twice: bad rows
// are listed and make the exit status 1, the rerun changes nothing, and an
// imported user signs in with the Rails password.
func TestUsersImport(t *testing.T) {
	const railsPassword = "from the rails days"
	digest, err := bcrypt.GenerateFromPassword([]byte(railsPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	file := writeFile(t, "users.csv", fmt.Sprintf("id,email,password_digest,created_at,name\n"+
		"3,Old.User@Example.com,%[1]s,2016-05-01 10:00:00.5,\"User, Old\"\n"+
		"4,not-an-email,%[1]s,,\n"+
		"5,second@example.com,%[1]s,2016-05-02T10:00:00Z,\n"+
		"6,second@example.com,%[1]s,,\n", digest))
	c := newCLI(t)

	out, errOut, err := c.run("users", "import", file)
	if exitStatus(err) != 1 || !strings.Contains(err.Error(), "2 of 4 rows were not imported") {
		t.Errorf("users import (bad rows): got %v, want status 1 and the count of skipped rows", err)
	}
	if m := summary.FindStringSubmatch(out); m == nil || strings.Join(m[1:], " ") != "2 0 1 1" {
		t.Errorf("users import: stdout %q, want the summary with 2 inserted, 1 conflict, 1 invalid", out)
	}
	// The skipped rows are for the person who ran it: on stdout, before the
	// summary; stderr is the log.
	wantProblems := "line 3: email \"not-an-email\" is invalid\nline 5: email second@example.com already belongs to user 5\n"
	if !strings.HasPrefix(out, wantProblems) || errOut != "" {
		t.Errorf("users import: stdout %q stderr %q, want stdout to start %q and no stderr", out, errOut, wantProblems)
	}

	out, _, _ = c.run("users", "import", file)
	if m := summary.FindStringSubmatch(out); m == nil || strings.Join(m[1:], " ") != "0 2 1 1" {
		t.Errorf("users import again: stdout %q, want 2 unchanged", out)
	}

	a := c.app()
	g, err := a.svc.SignIn(context.Background(), auth.Credentials{Email: "old.user@example.com", Password: railsPassword})
	if err != nil || g.UserID != 3 {
		t.Fatalf("SignIn(imported user) = %+v, %v; want user 3", g, err)
	}
	if out := c.mustRun("users", "list"); !strings.Contains(out, "old.user@example.com  2016-05-01T10:00:00Z  -       argon2id") ||
		!strings.Contains(out, "second@example.com    2016-05-02T10:00:00Z  -       bcrypt") {
		t.Errorf("users list after import and sign-in: got\n%s", out)
	}
}

func TestUsersImport_JSONLCleanExitsZero(t *testing.T) {
	digest, _ := bcrypt.GenerateFromPassword([]byte("whatever password"), bcrypt.MinCost)
	file := writeFile(t, "users.ndjson", fmt.Sprintf(`{"id": 1, "email": "a@example.com", "password_digest": %q}
{"id": "2", "email": "b@example.com", "password_digest": %q, "created_at": "2020-01-01 00:00:00 UTC"}
`, digest, digest))
	c := newCLI(t)
	out, errOut, err := c.run("users", "import", file)
	if err != nil || errOut != "" {
		t.Fatalf("users import (clean JSON Lines): got %v, stderr %q; want success", err, errOut)
	}
	if m := summary.FindStringSubmatch(out); m == nil || strings.Join(m[1:], " ") != "2 0 0 0" {
		t.Errorf("users import: stdout %q, want 2 inserted", out)
	}
}

func TestUsersImport_Fatal(t *testing.T) {
	c := newCLI(t)
	header := writeFile(t, "users.csv", "id,mail,password_digest\n")
	out, _, err := c.run("users", "import", header)
	if exitStatus(err) != 1 || !strings.Contains(err.Error(), "users.csv: CSV header has no email column") || out != "" {
		t.Errorf("users import (bad header): got %v, stdout %q; want status 1 naming the file and the column, no summary", err, out)
	}
	_, _, err = c.run("users", "import", filepath.Join(t.TempDir(), "missing.csv"))
	if exitStatus(err) != 1 || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("users import (missing file): got %v, want status 1", err)
	}
}

func TestImportFormat(t *testing.T) {
	tests := []struct {
		flag, name string
		want       railsimport.Format
		wantErr    string
	}{
		{name: "users.csv", want: railsimport.CSV},
		{name: "USERS.CSV", want: railsimport.CSV},
		{name: "users.jsonl", want: railsimport.JSONL},
		{name: "users.ndjson", want: railsimport.JSONL},
		{flag: "csv", name: "-", want: railsimport.CSV},
		{flag: "jsonl", name: "users.txt", want: railsimport.JSONL},
		{flag: "JSONL", name: "users.csv", want: railsimport.JSONL},
		{name: "users.json", wantErr: "cannot tell the format of users.json"},
		{name: "-", wantErr: "standard input needs --format"},
		{flag: "xml", name: "users.csv", wantErr: `--format must be csv or jsonl, not "xml"`},
	}
	for _, tt := range tests {
		got, err := importFormat(tt.flag, tt.name)
		if tt.wantErr != "" {
			if exitStatus(err) != 2 || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("importFormat(%q, %q) = %v, want a usage error containing %q", tt.flag, tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("importFormat(%q, %q) = %q, %v; want %q", tt.flag, tt.name, got, err, tt.want)
		}
	}
}

func TestProgress(t *testing.T) {
	at := func(rows, bytes int64, secs float64) auth.ImportProgress {
		return auth.ImportProgress{Rows: rows, Bytes: bytes, Elapsed: time.Duration(secs * float64(time.Second))}
	}
	updates := []auth.ImportProgress{at(5000, 100, 0.1), at(10000, 200, 0.6), at(15000, 300, 0.9), at(60000, 800, 6), at(65000, 1000, 6.5)}
	tests := []struct {
		name string
		p    *progress
		want string
	}{
		{name: "log", p: &progress{size: 1000, every: 5 * time.Second},
			want: `{"level":"INFO","msg":"importing","rows":60000,"percent":80,"rows_per_s":10000}` + "\n"},
		{name: "terminal", p: &progress{size: 1000, tty: true, every: 500 * time.Millisecond},
			want: "\rimporting: 10000 rows, 20% of 1000 bytes, 16667 rows/s" +
				"\rimporting: 60000 rows, 80% of 1000 bytes, 10000 rows/s" +
				"\rimporting: 65000 rows, 100% of 1000 bytes, 10000 rows/s" +
				"\r" + strings.Repeat(" ", len("importing: 65000 rows, 100% of 1000 bytes, 10000 rows/s")) + "\r"},
		{name: "sizeUnknown", p: &progress{tty: true, every: 500 * time.Millisecond}, want: ""},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		tt.p.w = &b
		tt.p.log = slog.New(slog.NewJSONHandler(&b, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
		for _, u := range updates {
			tt.p.update(u)
		}
		tt.p.clear()
		if b.String() != tt.want {
			t.Errorf("progress %s: wrote %q, want %q", tt.name, b.String(), tt.want)
		}
	}
}

// TestUsersImport_LargestIDThenRegister: ids past auth.MaxImportID are
// refused (2^63-1 once made every later registration 503), the largest
// allowed one is imported, and registrations go on after it, on every
// store.
func TestUsersImport_LargestIDThenRegister(t *testing.T) {
	stores := []struct {
		name string
		db   func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "g.db") }},
		{"postgres", func(t *testing.T) string { return authtest.PostgresDatabase(t) }},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			digest, _ := bcrypt.GenerateFromPassword([]byte("whatever password"), bcrypt.MinCost)
			file := writeFile(t, "users.csv", fmt.Sprintf("id,email,password_digest\n"+
				"9223372036854775807,int64max@example.com,%[1]s\n"+
				"%[2]d,past@example.com,%[1]s\n"+
				"%[3]d,largest@example.com,%[1]s\n", digest, auth.MaxImportID+1, auth.MaxImportID))
			c := newCLI(t)
			c.db = st.db(t)
			out, _, err := c.run("users", "import", file)
			if m := summary.FindStringSubmatch(out); exitStatus(err) != 1 || m == nil || strings.Join(m[1:], " ") != "1 0 0 2" {
				t.Errorf("users import: got %v, stdout %q; want status 1 with 1 inserted, 2 invalid", err, out)
			}
			for _, want := range []string{"line 2: id \"9223372036854775807\" is above", "line 3: id \"4503599627370497\" is above"} {
				if !strings.Contains(out, want) {
					t.Errorf("users import: stdout %q, want a line %q…", out, want)
				}
			}
			g, err := c.app().svc.Register(context.Background(), auth.Registration{
				Email: "after@example.com", Password: "a new password", PasswordConfirmation: "a new password"})
			if err != nil || g.UserID != auth.MaxImportID+1 {
				t.Fatalf("Register after importing id %d = %+v, %v; want user %d", int64(auth.MaxImportID), g, err, int64(auth.MaxImportID)+1)
			}
		})
	}
}
