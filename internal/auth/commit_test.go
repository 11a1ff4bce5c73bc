package auth_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authtest"
	"github.com/gatehouse/gatehouse/internal/postgres"
)

// stallWrites freezes the link to PostgreSQL just as a registration or a
// revocation is issued, and then either thaws it or cuts it after a delay:
// the write's statement is at the proxy, on its way to the database, when
// the request's deadline passes.
type stallWrites struct {
	auth.Store
	proxy *authtest.Proxy
	after time.Duration
	cut   bool
}

func (s *stallWrites) stall() {
	s.proxy.Freeze()
	time.AfterFunc(s.after, func() {
		if s.cut {
			s.proxy.Cut()
		}
		s.proxy.Thaw()
	})
}

func (s *stallWrites) CreateUser(ctx context.Context, u *auth.User, sess *auth.Session) error {
	s.stall()
	return s.Store.CreateUser(ctx, u, sess)
}

func (s *stallWrites) RevokeSession(ctx context.Context, id string, at time.Time) error {
	s.stall()
	return s.Store.RevokeSession(ctx, id, at)
}

// postgresViaProxy opens a store on a fresh database through a fault proxy.
func postgresViaProxy(t *testing.T) (*postgres.Store, *authtest.Proxy) {
	t.Helper()
	u, err := url.Parse(authtest.PostgresDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	p := authtest.StartProxy(t, u.Host)
	u.Host = p.Addr
	st, err := postgres.Open(context.Background(), u.String())
	if err != nil {
		t.Fatalf("postgres.Open() = %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st, p
}

// A registration and a sign-out whose writes reach the database only
// after the request's deadline are answered with what happened: success,
// with their audit lines, not a 503 for a change that was made.
func TestCommit_OutlivesRequestDeadline(t *testing.T) {
	t.Parallel()
	st, p := postgresViaProxy(t)
	stalled := &stallWrites{Store: st, proxy: p, after: 600 * time.Millisecond}
	events := &authtest.EventLog{}
	clock := authtest.NewClock(t0)
	svc := nodeOn(t, stalled, clock.Now, func(c *auth.Config) { c.OnEvent = events.Add })

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	g, err := svc.Register(ctx, auth.Registration{
		Email: "late@example.com", Password: testPassword, PasswordConfirmation: testPassword, Client: testClient,
	})
	if err != nil {
		t.Fatalf("Register(write delivered after the deadline) = %v, want success", err)
	}
	if got := events.Of(auth.EventRegistered); len(got) != 1 {
		t.Errorf("registered events = %d, want 1", len(got))
	}

	p2 := mustAuth(t, svc, g.AccessToken)
	ctx, cancel = context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if err := svc.SignOut(ctx, p2, testClient); err != nil {
		t.Fatalf("SignOut(write delivered after the deadline) = %v, want success", err)
	}
	if got := events.Of(auth.EventSignedOut); len(got) != 1 {
		t.Errorf("signed_out events = %d, want 1", len(got))
	}
	if _, err := st.UserByEmail(t.Context(), "late@example.com"); err != nil {
		t.Errorf("UserByEmail(registered) = %v", err)
	}
	sess, err := st.Session(t.Context(), g.SessionID)
	if err != nil || !sess.Revoked() {
		t.Errorf("Session(signed out) = %+v, %v; want revoked", sess, err)
	}
}

// When the connection dies while the write is on its way, nobody but the
// database knows whether it committed: the answer says so with its own
// code, never a plain 503 that invites a blind retry, and never success.
func TestCommit_OutcomeUnknown(t *testing.T) {
	t.Parallel()
	st, p := postgresViaProxy(t)
	stalled := &stallWrites{Store: st, proxy: p, after: 200 * time.Millisecond, cut: true}
	clock := authtest.NewClock(t0)
	plain := nodeOn(t, st, clock.Now)
	svc := nodeOn(t, stalled, clock.Now)
	g := registerOn(t, plain, "cut@example.com")
	pr := mustAuth(t, svc, g.AccessToken)

	err := svc.SignOut(t.Context(), pr, testClient)
	if got := auth.ErrorCode(err); got != auth.CodeOutcomeUnknown {
		t.Errorf("SignOut(connection cut during the write) = %v, want code %s", err, auth.CodeOutcomeUnknown)
	}
	p.Restore(t)
	_, err = svc.Register(t.Context(), auth.Registration{
		Email: "cut2@example.com", Password: testPassword, PasswordConfirmation: testPassword, Client: testClient,
	})
	if got := auth.ErrorCode(err); got != auth.CodeOutcomeUnknown {
		t.Errorf("Register(connection cut during the write) = %v, want code %s", err, auth.CodeOutcomeUnknown)
	}
}
