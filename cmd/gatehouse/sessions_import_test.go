package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/authtest"
)

// TestSessionsImportJWTSessions runs the real command on a Redis holding
// records written as the gem writes them (authtest.GemRedis): the report
// on stdout, the exit status, and a rerun that imports nothing twice.
func TestSessionsImportJWTSessions(t *testing.T) {
	gem := authtest.NewGemRedis(t)
	file := writeFile(t, "users.csv", "id,email,password_digest\n"+
		"3,ada@example.com,$2a$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW\n")
	c := newCLI(t)
	if _, _, err := c.run("users", "import", file); err != nil {
		t.Fatalf("users import: %v", err)
	}
	now := time.Now()
	for range 2 {
		gem.Login(t, []byte("unused: the command checks no token"), 3, now, time.Hour, 24*time.Hour)
	}
	gem.Login(t, []byte("unused"), 4, now, time.Hour, 24*time.Hour) // not imported
	from := authtest.RequireService(t, "GATEHOUSE_TEST_REDIS_URL")
	args := []string{"sessions", "import-jwt-sessions", "--from", from, "--prefix", gem.Prefix}

	out, _, err := c.run(args...)
	if exitStatus(err) != 1 || !strings.Contains(err.Error(), "1 sessions were not imported") {
		t.Errorf("first import: got %v, want status 1 for the session of the unknown user", err)
	}
	want := "sessions: 2 imported, 0 already present; skipped: 1 unknown user, 0 expired, 0 malformed"
	if !strings.Contains(out, "user 4 is not in Gatehouse") || !strings.Contains(out, want) {
		t.Errorf("first import: stdout %q, want the unknown user listed and %q", out, want)
	}
	out, _, _ = c.run(args...)
	if want := "sessions: 0 imported, 2 already present;"; !strings.Contains(out, want) {
		t.Errorf("second import: stdout %q, want %q", out, want)
	}
	if _, _, err := c.run("sessions", "import-jwt-sessions"); exitStatus(err) != 2 {
		t.Errorf("import without --from: got %v, want a usage error (status 2)", err)
	}
	_, _, err = c.run(append(args, "--namespace", "user")...)
	if exitStatus(err) != 2 || !strings.Contains(fmt.Sprint(err), "{id}") {
		t.Errorf("import with --namespace user: got %v, want a usage error naming {id}", err)
	}
}
