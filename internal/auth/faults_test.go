package auth_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authtest"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/postgres"
	"github.com/gatehouse/gatehouse/internal/sqlite"
)

// backends open a fresh store of each kind, for the tests of faults that
// involve the database's own behaviour (its clock, its read timing).
var backends = []struct {
	name string
	open func(tb testing.TB) auth.Store
}{
	{"SQLite", func(tb testing.TB) auth.Store {
		st, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "gatehouse.db"))
		if err != nil {
			tb.Fatalf("sqlite.Open() = %v", err)
		}
		tb.Cleanup(func() { st.Close() })
		return st
	}},
	{"PostgreSQL", func(tb testing.TB) auth.Store {
		st, err := postgres.Open(context.Background(), authtest.PostgresDatabase(tb))
		if err != nil {
			tb.Fatalf("postgres.Open() = %v", err)
		}
		tb.Cleanup(func() { st.Close() })
		return st
	}},
}

// nodeOn builds a Service on store with its own clock, as one server of a
// deployment whose hosts' clocks differ.
func nodeOn(tb testing.TB, store auth.Store, now func() time.Time, opts ...func(*auth.Config)) *auth.Service {
	tb.Helper()
	cfg := auth.Config{
		Store:       store,
		Key:         testKey(),
		Hasher:      password.NewHasher(tinyParams),
		HashLimiter: password.NewLimiter(4, 30*time.Second),
		Now:         now,
	}
	for _, o := range opts {
		o(&cfg)
	}
	svc, err := auth.NewService(cfg)
	if err != nil {
		tb.Fatalf("NewService() = %v", err)
	}
	return svc
}

func registerOn(tb testing.TB, svc *auth.Service, email string) *auth.Grant {
	tb.Helper()
	g, err := svc.Register(context.Background(), auth.Registration{
		Email: email, Password: testPassword, PasswordConfirmation: testPassword, Client: testClient,
	})
	if err != nil {
		tb.Fatalf("Register(%q) = %v", email, err)
	}
	return g
}

// Node B's clock is 30 s ahead of A's, which is the database's. Tokens
// minted on either verify on both; once both have measured their offset,
// a refresh won on A and retried on B within grace gets A's result, and
// the grace window ends at the same instant on both.
func TestClockSkew(t *testing.T) {
	t.Parallel()
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			store := be.open(t)
			// The database's clock is real time; the nodes' clocks stand
			// still unless advanced, so offsets drift by the test's own
			// running time (milliseconds).
			base := time.Now()
			ca, cb := authtest.NewClock(base), authtest.NewClock(base.Add(30*time.Second))
			var offsets []time.Duration
			a := nodeOn(t, store, ca.Now)
			b := nodeOn(t, store, cb.Now, func(c *auth.Config) {
				c.OnClockOffset = func(d time.Duration) { offsets = append(offsets, d) }
			})

			// Before any measurement: within the bound, each node accepts
			// the other's tokens.
			gb := registerOn(t, b, "ahead@example.com")
			checkAuth(t, a, "B's token on A, unsynced", gb.AccessToken, nil)
			ga := registerOn(t, a, "behind@example.com")
			checkAuth(t, b, "A's token on B, unsynced", ga.AccessToken, nil)

			for name, svc := range map[string]*auth.Service{"A": a, "B": b} {
				if err := svc.SyncClock(t.Context()); err != nil {
					t.Fatalf("%s.SyncClock() = %v", name, err)
				}
				if err := svc.ClockReady(); err != nil {
					t.Errorf("%s.ClockReady() = %v, want nil (within the bound)", name, err)
				}
			}
			if len(offsets) != 1 || offsets[0] > -29*time.Second || offsets[0] < -31*time.Second {
				t.Errorf("B's measured offsets = %v, want one of about -30s", offsets)
			}

			g1, err := a.Refresh(t.Context(), auth.RefreshRequest{RefreshToken: ga.RefreshToken})
			if err != nil {
				t.Fatalf("A.Refresh() = %v", err)
			}
			ca.Advance(5 * time.Second)
			cb.Advance(5 * time.Second)
			retried, err := b.Refresh(t.Context(), auth.RefreshRequest{RefreshToken: ga.RefreshToken})
			if err != nil {
				t.Fatalf("B.Refresh(retry of A's winner, 5s later) = %v, want the winner's grant", err)
			}
			if retried.AccessToken != g1.AccessToken {
				t.Errorf("B.Refresh(retry) access token differs from the winner's on A")
			}
			checkAuth(t, a, "replaced token on A in grace", ga.AccessToken, nil)
			checkAuth(t, b, "replaced token on B in grace", ga.AccessToken, nil)
			ca.Advance(6 * time.Second)
			cb.Advance(6 * time.Second)
			checkAuth(t, a, "replaced token on A after grace", ga.AccessToken, auth.ErrNotAuthorized)
			checkAuth(t, b, "replaced token on B after grace", ga.AccessToken, auth.ErrNotAuthorized)
			checkAuth(t, b, "winner's token on B", g1.AccessToken, nil)
		})
	}
}

// A node whose clock is off by more than the bound says so: ClockReady
// fails (and /readyz with it) until a measurement finds it back in bound.
func TestClockSkew_BeyondBound(t *testing.T) {
	t.Parallel()
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			store := be.open(t)
			clock := authtest.NewClock(time.Now().Add(-45 * time.Second))
			svc := nodeOn(t, store, clock.Now)
			if err := svc.ClockReady(); err != nil {
				t.Errorf("ClockReady() before any measurement = %v, want nil", err)
			}
			if err := svc.SyncClock(t.Context()); err != nil {
				t.Fatalf("SyncClock() = %v", err)
			}
			if err := svc.ClockReady(); auth.ErrorCode(err) != auth.CodeUnavailable {
				t.Errorf("ClockReady() 45s behind = %v, want unavailable", err)
			}
			if off := svc.ClockOffset(); off < 44*time.Second {
				t.Errorf("ClockOffset() = %v, want about 45s", off)
			}
			clock.Advance(45 * time.Second)
			if err := svc.SyncClock(t.Context()); err != nil {
				t.Fatalf("SyncClock() = %v", err)
			}
			if err := svc.ClockReady(); err != nil {
				t.Errorf("ClockReady() after the clock was fixed = %v, want nil", err)
			}
		})
	}
}

// slowReads holds one Session read of the store after the database has
// answered and before the caller sees the answer: the read has begun (and
// seen its state) before whatever the test does meanwhile.
type slowReads struct {
	auth.Store
	hold chan chan struct{} // receives, per held read, a channel to release it
}

func (s *slowReads) Session(ctx context.Context, id string) (*auth.Session, error) {
	sess, err := s.Store.Session(ctx, id)
	select {
	case release := <-s.hold:
		<-release
	default:
	}
	return sess, err
}

// A read that began while B's feed was down, and returns after a sign-out
// on A and after B's feed came back, must not put the live session back
// into B's now-trusted cache.
func TestCache_ReadAcrossReconnect(t *testing.T) {
	t.Parallel()
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			store := be.open(t)
			clock := authtest.NewClock(t0)
			slow := &slowReads{Store: store, hold: make(chan chan struct{}, 1)}
			a := nodeOn(t, store, clock.Now)
			b := nodeOn(t, slow, clock.Now)
			g := registerOn(t, a, "raced@example.com")

			b.SetFeedHealthy(false)
			release := make(chan struct{})
			slow.hold <- release
			done := make(chan error, 1)
			go func() {
				_, err := b.Authenticate(context.Background(), g.AccessToken)
				done <- err
			}()
			// The read is held once the hold channel is empty again.
			for len(slow.hold) != 0 {
				time.Sleep(time.Millisecond)
			}
			if err := a.SignOut(t.Context(), mustAuth(t, a, g.AccessToken), testClient); err != nil {
				t.Fatalf("A.SignOut() = %v", err)
			}
			b.SetFeedHealthy(true) // the notice of the sign-out was missed
			close(release)
			if err := <-done; err != nil && !errors.Is(err, auth.ErrNotAuthorized) {
				t.Fatalf("B.Authenticate(held read) = %v", err)
			}
			checkAuth(t, b, "signed-out token on B after the held read landed", g.AccessToken, auth.ErrNotAuthorized)
		})
	}
}

// slowClockRead is a store whose clock reading takes d of the node's time.
type slowClockRead struct {
	auth.Store
	clock *authtest.Clock
	d     time.Duration
}

func (s *slowClockRead) Now(ctx context.Context) (time.Time, error) {
	s.clock.Advance(s.d)
	return s.Store.Now(ctx)
}

// A reading that took long could be misplaced by up to its round trip, so
// it is refused and the last correction kept.
func TestSyncClock_SlowReadingKeepsOffset(t *testing.T) {
	t.Parallel()
	clock := authtest.NewClock(time.Now().Add(-time.Minute))
	slow := &slowClockRead{Store: backends[0].open(t), clock: clock}
	svc := nodeOn(t, slow, clock.Now)
	if err := svc.SyncClock(t.Context()); err != nil {
		t.Fatalf("SyncClock(fast) = %v", err)
	}
	want := svc.ClockOffset()
	slow.d = time.Second
	if err := svc.SyncClock(t.Context()); err == nil {
		t.Errorf("SyncClock(reading took 1s) = nil, want an error")
	}
	if got := svc.ClockOffset(); got != want {
		t.Errorf("ClockOffset() after a slow reading = %v, want the last good %v", got, want)
	}
}
