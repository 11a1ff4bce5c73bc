package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/sqlite"
)

// When the test binary is started with this variable set to a database
// path, it runs crashWorkload on it instead of the tests, until it is
// killed: a process cannot SIGKILL itself and go on checking.
const crashEnv = "GATEHOUSE_TEST_SQLITE_CRASH_DB"

func TestMain(m *testing.M) {
	if path := os.Getenv(crashEnv); path != "" {
		crashWorkload(path)
		return
	}
	os.Exit(m.Run())
}

// The crash workload's writers, each a goroutine of its own. Rotators
// chain refreshes of session r<i>, creators start sessions for user
// creatorUser(i) under the per-user cap, revokers sign out the pre-made
// sessions v<i>-<n>.
const (
	crashRotators     = 12
	crashCreators     = 12
	crashRevokers     = 12
	crashRevocable    = 400 // pre-made sessions per revoker
	crashCap          = 3   // the creators' per-user session cap
	crashWantAcks     = 3000
	crashMaxRunTime   = 20 * time.Second
	crashRotatorUser  = 1 // users 1, 2 and 3 own the sessions of each kind
	crashCreatorUser  = 2
	crashRevokingUser = 3
)

// rotatedAt is when the rotation to gen happened: the row's rotated_at
// names its generation, so a row with one but not the other would be a
// half-applied change.
func rotatedAt(gen int64) time.Time { return t0.Add(time.Duration(gen) * time.Second) }

// crashWorkload writes through the store from many goroutines at once and
// prints one line for every write that returned nil (was acknowledged).
func crashWorkload(path string) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ack := func(format string, args ...any) {
		// One write(2) of a short line to a pipe is atomic: lines of
		// different goroutines do not interleave.
		os.Stdout.WriteString(fmt.Sprintf(format, args...) + "\n")
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	var wg sync.WaitGroup
	for i := range crashRotators {
		wg.Go(func() {
			id := fmt.Sprintf("r%d", i)
			for gen := int64(0); ; gen++ {
				at := rotatedAt(gen + 1)
				if _, err := s.RotateSession(ctx, id, gen, at, at.Add(time.Minute)); err != nil {
					fail(err)
				}
				ack("rot %s %d", id, gen+1)
			}
		})
	}
	for i := range crashCreators {
		wg.Go(func() {
			for n := 0; ; n++ {
				sess := testSession(fmt.Sprintf("c%d-%d", i, n), crashCreatorUser)
				if _, err := s.CreateSession(ctx, sess, crashCap); err != nil {
					fail(err)
				}
				ack("new %s", sess.ID)
			}
		})
	}
	for i := range crashRevokers {
		wg.Go(func() {
			for n := range crashRevocable {
				id := fmt.Sprintf("v%d-%d", i, n)
				if err := s.RevokeSession(ctx, id, t0); err != nil {
					fail(err)
				}
				ack("rev %s", id)
			}
		})
	}
	wg.Wait()
	fmt.Fprintln(os.Stderr, "the workload ran out before it was killed")
	os.Exit(4)
}

// TestKillDuringBatch: a process writing from many goroutines at once,
// so that its changes are committed in batches, is killed with SIGKILL
// while it writes. Every change it acknowledged is in the database after
// the restart, and no change is half there: a rotation is at one of the
// two generations it may be at, with that generation's time; no user has
// more live sessions than the cap that each insert enforced in its own
// transaction.
func TestKillDuringBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a writer process and kills it")
	}
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "crash.db")
	seedCrashDB(t, path)

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	rotated := map[string]int64{}
	var created, revoked []string
	acks := 0
	timer := time.AfterFunc(crashMaxRunTime, func() { cmd.Process.Signal(syscall.SIGKILL) })
	defer timer.Stop()
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		f := strings.Fields(lines.Text())
		switch {
		case len(f) == 3 && f[0] == "rot":
			gen, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil {
				t.Fatalf("child wrote %q", lines.Text())
			}
			rotated[f[1]] = gen
		case len(f) == 2 && f[0] == "new":
			created = append(created, f[1])
		case len(f) == 2 && f[0] == "rev":
			revoked = append(revoked, f[1])
		default:
			t.Fatalf("child wrote %q", lines.Text())
		}
		// Lines already in the pipe when the process dies are
		// acknowledgements too: read on to the end.
		if acks++; acks == crashWantAcks {
			cmd.Process.Signal(syscall.SIGKILL)
		}
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the writer was not killed: %v; stderr:\n%s", err, stderr.String())
	}
	if acks < 100 {
		t.Fatalf("only %d writes acknowledged before the kill; want a busy writer", acks)
	}
	t.Logf("killed after %d acknowledged writes (%d rotations, %d sessions created, %d revoked)",
		acks, len(rotated), len(created), len(revoked))

	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen after kill -9: %v", err)
	}
	defer s.Close()
	for i := range crashRotators {
		id := fmt.Sprintf("r%d", i)
		sess, err := s.Session(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		// The one rotation past the last acknowledged may or may not
		// have committed when the process died.
		if acked := rotated[id]; sess.Generation != acked && sess.Generation != acked+1 {
			t.Errorf("session %s at generation %d, last acknowledged %d", id, sess.Generation, acked)
		}
		if want := rotatedAt(sess.Generation); !sess.RotatedAt.Equal(want) {
			t.Errorf("session %s at generation %d rotated at %v, want %v: half of a rotation", id, sess.Generation, sess.RotatedAt, want)
		}
	}
	for _, id := range created {
		if _, err := s.Session(ctx, id); err != nil {
			t.Errorf("acknowledged session %s: %v", id, err)
		}
	}
	for _, id := range revoked {
		if sess, err := s.Session(ctx, id); err != nil || sess.RevokedAt.IsZero() {
			t.Errorf("acknowledged sign-out of %s: revoked at %v, %v", id, sess.RevokedAt, err)
		}
	}
	live, err := s.ListSessions(ctx, crashCreatorUser, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(live) > crashCap {
		t.Errorf("user %d has %d live sessions, cap %d: an insert committed without its eviction", crashCreatorUser, len(live), crashCap)
	}
}

// seedCrashDB makes the users and the sessions the workload changes.
func seedCrashDB(t *testing.T, path string) {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, want := range []int64{crashRotatorUser, crashCreatorUser, crashRevokingUser} {
		u := testUser(fmt.Sprintf("crash%d@example.com", i))
		if err := s.CreateUser(t.Context(), u, nil); err != nil || u.ID != want {
			t.Fatalf("CreateUser = id %d, %v; want id %d", u.ID, err, want)
		}
	}
	var sessions []auth.Session
	for i := range crashRotators {
		sess := testSession(fmt.Sprintf("r%d", i), crashRotatorUser)
		sess.RotatedAt = rotatedAt(0)
		sessions = append(sessions, *sess)
	}
	for i := range crashRevokers {
		for n := range crashRevocable {
			sessions = append(sessions, *testSession(fmt.Sprintf("v%d-%d", i, n), crashRevokingUser))
		}
	}
	if err := s.ImportSessions(t.Context(), sessions); err != nil {
		t.Fatal(err)
	}
}
