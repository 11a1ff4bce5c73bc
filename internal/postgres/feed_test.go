package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"github.com/gatehouse/gatehouse/internal/authtest"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// change is one onChange call.
type change struct {
	ID      string
	Gen     int64
	Revoked bool
}

// feed is a running Listener and what it reported.
type feed struct {
	app     string // its application_name, to find its backend
	changes chan change
	health  chan bool
	stop    func() // stops it and waits for Run to return
}

// startListener runs a Listener on dbURL until tb ends and waits until it
// reports healthy.
func startListener(tb testing.TB, dbURL string) *feed {
	tb.Helper()
	var b [6]byte
	rand.Read(b[:])
	f := &feed{
		app:     "gatehouse-listener-" + hex.EncodeToString(b[:]),
		changes: make(chan change, 100),
		health:  make(chan bool, 100),
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", f.app)
	u.RawQuery = q.Encode()
	l := NewListener(u.String(),
		func(id string, gen int64, revoked bool) { f.changes <- change{id, gen, revoked} },
		func(healthy bool) { f.health <- healthy },
		slog.New(slog.NewTextHandler(tb.Output(), nil)))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	var stopped bool
	f.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("Listener.Run after cancel = %v, want nil", err)
			}
		case <-time.After(5 * time.Second):
			tb.Errorf("Listener.Run did not return within 5 s of cancel")
		}
	}
	tb.Cleanup(f.stop)
	f.wantHealth(tb, false, time.Second)
	f.wantHealth(tb, true, 5*time.Second)
	return f
}

// wantHealth waits up to within for the next onHealth call and fails
// unless it reports want.
func (f *feed) wantHealth(tb testing.TB, want bool, within time.Duration) time.Duration {
	tb.Helper()
	start := time.Now()
	select {
	case got := <-f.health:
		if got != want {
			tb.Fatalf("onHealth(%t), want onHealth(%t)", got, want)
		}
	case <-time.After(within):
		tb.Fatalf("no onHealth(%t) within %v", want, within)
	}
	return time.Since(start)
}

// wantChanges waits up to a second for len(want) onChange calls and
// compares them with want, in any order.
func (f *feed) wantChanges(tb testing.TB, call string, want ...change) {
	tb.Helper()
	var got []change
	timeout := time.After(time.Second)
	for len(got) < len(want) {
		select {
		case c := <-f.changes:
			got = append(got, c)
		case <-timeout:
			tb.Fatalf("%s: onChange got %v within 1 s, want %v", call, got, want)
		}
	}
	byID := func(a, b change) int { return strings.Compare(a.ID, b.ID) }
	slices.SortFunc(got, byID)
	slices.SortFunc(want, byID)
	if d := cmp.Diff(got, want); d != "" {
		tb.Errorf("%s: onChange calls mismatch (-got +want):\n%s", call, d)
	}
}

// wantNoChange fails if onChange is called within d.
func (f *feed) wantNoChange(tb testing.TB, call string, d time.Duration) {
	tb.Helper()
	select {
	case c := <-f.changes:
		tb.Errorf("%s: onChange(%+v), want no call", call, c)
	case <-time.After(d):
	}
}

func TestListener_StoreChanges(t *testing.T) {
	t.Parallel()
	st, dbURL := newTestStore(t)
	f := startListener(t, dbURL)
	ctx := t.Context()
	t0 := time.Date(2025, time.March, 14, 9, 0, 0, 0, time.UTC)
	newSession := func(userID int64, createdAt time.Time) *auth.Session {
		return &auth.Session{ID: "s-" + strconv.FormatInt(createdAt.Unix(), 10), UserID: userID,
			RotatedAt: createdAt, CreatedAt: createdAt, LastUsedAt: createdAt,
			AccessExpiresAt: createdAt.Add(time.Hour), ExpiresAt: createdAt.Add(24 * time.Hour)}
	}
	createSession := func(s *auth.Session, maxPerUser int) []string {
		t.Helper()
		evicted, err := st.CreateSession(ctx, s, maxPerUser)
		if err != nil {
			t.Fatalf("CreateSession(%q, %d) = %v", s.ID, maxPerUser, err)
		}
		return evicted
	}

	u := &auth.User{Email: "ada@example.com", PasswordHash: "x", CreatedAt: t0, UpdatedAt: t0}
	s1 := newSession(0, t0)
	if err := st.CreateUser(ctx, u, s1); err != nil {
		t.Fatalf("CreateUser = %v", err)
	}
	f.wantNoChange(t, "CreateUser", 100*time.Millisecond)

	if _, err := st.RotateSession(ctx, s1.ID, 0, t0.Add(time.Minute), t0.Add(time.Hour)); err != nil {
		t.Fatalf("RotateSession(%q, 0) = %v", s1.ID, err)
	}
	f.wantChanges(t, "RotateSession", change{s1.ID, 1, false})
	if _, err := st.RotateSession(ctx, s1.ID, 0, t0.Add(time.Minute), t0.Add(time.Hour)); err == nil {
		t.Fatalf("RotateSession(%q, 0) a second time = nil, want ErrConflict", s1.ID)
	}
	f.wantNoChange(t, "RotateSession that lost", 100*time.Millisecond)

	s2 := newSession(u.ID, t0.Add(time.Minute))
	createSession(s2, 0)
	s3 := newSession(u.ID, t0.Add(2*time.Minute))
	if got := createSession(s3, 1); !slices.Equal(got, []string{s1.ID, s2.ID}) {
		t.Errorf("CreateSession(%q, 1) evicted %q, want %q", s3.ID, got, []string{s1.ID, s2.ID})
	}
	f.wantChanges(t, "CreateSession evicting", change{s1.ID, 1, true}, change{s2.ID, 0, true})

	if err := st.RevokeSession(ctx, s3.ID, t0.Add(3*time.Minute)); err != nil {
		t.Fatalf("RevokeSession(%q) = %v", s3.ID, err)
	}
	f.wantChanges(t, "RevokeSession", change{s3.ID, 0, true})

	s4, s5 := newSession(u.ID, t0.Add(4*time.Minute)), newSession(u.ID, t0.Add(5*time.Minute))
	createSession(s4, 0)
	createSession(s5, 0)
	if _, err := st.RevokeUserSessions(ctx, u.ID, s5.ID, t0.Add(6*time.Minute)); err != nil {
		t.Fatalf("RevokeUserSessions = %v", err)
	}
	f.wantChanges(t, "RevokeUserSessions", change{s4.ID, 0, true})

	if _, err := st.DeleteUser(ctx, u.ID); err != nil {
		t.Fatalf("DeleteUser = %v", err)
	}
	f.wantChanges(t, "DeleteUser", change{s5.ID, 0, true})
	f.wantNoChange(t, "DeleteUser", 100*time.Millisecond)
}

// notifyConn is a raw connection to the test database, for notifications
// the store would never send.
func notifyConn(t *testing.T, dbURL string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func sendNotify(t *testing.T, q interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, payload string) {
	t.Helper()
	if _, err := q.Exec(t.Context(), `SELECT pg_notify($1, $2)`, notifyChannel, payload); err != nil {
		t.Fatalf("pg_notify(%q) = %v", payload, err)
	}
}

// A notification is delivered only if its transaction commits.
// Notifications arrive in commit order, so once the marker committed after
// the rollback has arrived, the rolled-back one never will.
func TestListener_RollbackNotDelivered(t *testing.T) {
	t.Parallel()
	dbURL := authtest.PostgresDatabase(t)
	f := startListener(t, dbURL)
	conn := notifyConn(t, dbURL)

	tx, err := conn.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	sendNotify(t, tx, "rolled-back 1 1")
	if err := tx.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	sendNotify(t, conn, "marker 2 0")
	f.wantChanges(t, "rollback, then a committed marker", change{"marker", 2, false})
	f.wantNoChange(t, "after the marker", 100*time.Millisecond)
}

func TestListener_IgnoresMalformed(t *testing.T) {
	t.Parallel()
	dbURL := authtest.PostgresDatabase(t)
	f := startListener(t, dbURL)
	conn := notifyConn(t, dbURL)
	for _, p := range []string{"", "garbage", "id 1", "id -1 0", "id 1 2", "id 01 0", "id 1 0 extra", " 1 0"} {
		sendNotify(t, conn, p)
	}
	sendNotify(t, conn, "good 3 1")
	f.wantChanges(t, "malformed payloads, then a good one", change{"good", 3, true})
}

// Killing the listener's backend is noticed at once; the listener
// reconnects and hears changes again.
func TestListener_Reconnects(t *testing.T) {
	t.Parallel()
	st, dbURL := newTestStore(t)
	f := startListener(t, dbURL)
	conn := notifyConn(t, dbURL)

	var killed int
	err := conn.QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1`, f.app).Scan(&killed)
	if err != nil || killed != 1 {
		t.Fatalf("pg_terminate_backend(listener %s) = %d backends, %v; want 1", f.app, killed, err)
	}
	if took := f.wantHealth(t, false, 1500*time.Millisecond); took > 500*time.Millisecond {
		t.Logf("onHealth(false) %v after the backend was killed", took)
	}
	f.wantHealth(t, true, 5*time.Second)

	u := &auth.User{Email: "ada@example.com", PasswordHash: "x"}
	s := &auth.Session{ID: "after-reconnect", ExpiresAt: time.Now().Add(time.Hour)}
	if err := st.CreateUser(t.Context(), u, s); err != nil {
		t.Fatalf("CreateUser = %v", err)
	}
	if err := st.RevokeSession(t.Context(), s.ID, time.Now()); err != nil {
		t.Fatalf("RevokeSession = %v", err)
	}
	f.wantChanges(t, "RevokeSession after reconnecting", change{s.ID, 0, true})
}

// A server that stops answering without closing the connection (a frozen
// host, a partition) is noticed too: the idle ping times out.
func TestListener_HungServer(t *testing.T) {
	t.Parallel()
	dbURL := authtest.PostgresDatabase(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	p := authtest.StartProxy(t, u.Host)
	u.Host = p.Addr
	f := startListener(t, u.String())

	p.Freeze()
	// idleTimeout + pingTimeout, plus slack for a loaded machine.
	took := f.wantHealth(t, false, idleTimeout+pingTimeout+time.Second)
	t.Logf("onHealth(false) %v after the connection froze", took)
	p.Thaw()
	f.wantHealth(t, true, 5*time.Second)
	sendNotify(t, notifyConn(t, dbURL), "after-thaw 1 0")
	f.wantChanges(t, "after reconnecting", change{"after-thaw", 1, false})
}

func TestListener_UnhealthyAfterStop(t *testing.T) {
	t.Parallel()
	f := startListener(t, authtest.PostgresDatabase(t))
	f.stop()
	f.wantHealth(t, false, time.Second)
}

func TestListener_BadURL(t *testing.T) {
	var health []bool
	l := NewListener("postgres://%zz", func(string, int64, bool) {}, func(h bool) { health = append(health, h) }, nil)
	if err := l.Run(t.Context()); err == nil {
		t.Errorf("Run with URL %q = nil, want an error", "postgres://%zz")
	}
	if !slices.Equal(health, []bool{false}) {
		t.Errorf("Run with a bad URL: onHealth calls %v, want [false]", health)
	}
}

func TestParsePayload(t *testing.T) {
	tests := []struct {
		payload string
		id      string
		gen     int64
		revoked bool
		ok      bool
	}{
		{payload: "3f2a6c1e-1f0b-4c7e-9a55-0d6b8e2f4a11 7 0", id: "3f2a6c1e-1f0b-4c7e-9a55-0d6b8e2f4a11", gen: 7, ok: true},
		{payload: "x 0 1", id: "x", gen: 0, revoked: true, ok: true},
		{payload: "x 9223372036854775807 0", id: "x", gen: 9223372036854775807, ok: true},
		{payload: ""},
		{payload: "x"},
		{payload: "x 1"},
		{payload: "x 1 0 "},
		{payload: "x  1 0"},
		{payload: " 1 0"},
		{payload: "x -1 0"},
		{payload: "x +1 0"},
		{payload: "x 01 0"},
		{payload: "x 1 2"},
		{payload: "x 9223372036854775808 0"},
		{payload: "x\t1 1 0"},
		{payload: "caf\u00e9 1 0"},
		{payload: strings.Repeat("a", 65) + " 1 0"},
	}
	for _, tt := range tests {
		id, gen, revoked, ok := parsePayload(tt.payload)
		if id != tt.id || gen != tt.gen || revoked != tt.revoked || ok != tt.ok {
			t.Errorf("parsePayload(%q) = %q, %d, %t, %t; want %q, %d, %t, %t",
				tt.payload, id, gen, revoked, ok, tt.id, tt.gen, tt.revoked, tt.ok)
		}
	}
}

func FuzzParsePayload(f *testing.F) {
	for _, p := range []string{"3f2a6c1e-1f0b-4c7e-9a55-0d6b8e2f4a11 7 0", "x 0 1", "x -1 0", "", "x 1 0 0"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		id, gen, revoked, ok := parsePayload(p)
		if !ok {
			return
		}
		// Whatever is accepted is exactly what the store would send.
		flag := "0"
		if revoked {
			flag = "1"
		}
		if again := id + " " + strconv.FormatInt(gen, 10) + " " + flag; again != p {
			t.Errorf("parsePayload(%q) = %q, %d, %t: formats back as %q", p, id, gen, revoked, again)
		}
	})
}
