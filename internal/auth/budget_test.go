package auth_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authtest"
	"github.com/gatehouse/gatehouse/internal/postgres"
	"github.com/gatehouse/gatehouse/internal/redis"
)

// withLimits turns the budgets on, on a memory counter on the env's clock.
func withLimits(l auth.Limits) func(*auth.Config) {
	return func(c *auth.Config) {
		c.Counter = auth.NewMemoryCounter(c.Now, 1000)
		c.Limits = l
	}
}

func isRateLimited(err error) bool {
	var e *auth.Error
	return errors.As(err, &e) && e.Code == auth.CodeRateLimited
}

// TestSignIn_BurstCannotDenyOwner is issue 8's attack: 100 concurrent
// wrong sign-ins from 100 addresses, then days of further guessing. Today's
// check-then-count let all 100 through, locked the account and revoked the
// owner's session. Now at most the account's free budget plus one is
// verified, nothing is locked, the session lives, and the owner's device
// signs in at once.
func TestSignIn_BurstCannotDenyOwner(t *testing.T) {
	e := newEnv(t, withLimits(auth.Limits{}))
	ctx := context.Background()
	const email = "victim@example.com"
	reg := e.register(t, email)
	owner := e.signIn(t, email, testPassword)
	if owner.DeviceToken == "" {
		t.Fatal("SignIn: no device token")
	}

	var verified atomic.Int64
	authtest.Concurrently(100, func(i int) {
		_, err := e.svc.SignIn(ctx, auth.Credentials{Email: email, Password: "wrong guess", Client: auth.Client{IP: fmt.Sprint("198.51.100.", i)}})
		if errors.Is(err, auth.ErrInvalidCredentials) {
			verified.Add(1)
		} else if !isRateLimited(err) {
			t.Errorf("SignIn(burst #%d) = %v, want invalid credentials or rate limited", i, err)
		}
	})
	if n, budget := verified.Load(), int64(auth.DefaultLimits().AccountFreeFailures+1); n > budget {
		t.Errorf("100 concurrent wrong sign-ins: %d verified, want at most %d", n, budget)
	}
	mustAuth(t, e.svc, owner.AccessToken)
	// Two days of patient guessing from ever new addresses.
	for i := range 2 * 24 {
		e.clock.Advance(time.Hour)
		e.svc.SignIn(ctx, auth.Credentials{Email: email, Password: "wrong guess", Client: auth.Client{IP: fmt.Sprint("192.0.2.", i%250)}})
	}
	_, err := e.svc.SignIn(ctx, auth.Credentials{Email: email, Password: testPassword, Client: auth.Client{IP: "203.0.113.99"}})
	if !isRateLimited(err) {
		t.Errorf("SignIn(right password, unknown device, account under attack) = %v, want rate limited", err)
	}
	g, err := e.svc.SignIn(ctx, auth.Credentials{Email: email, Password: testPassword,
		Client: auth.Client{IP: "203.0.113.99", Device: owner.DeviceToken}})
	if err != nil {
		t.Fatalf("SignIn(owner's device) after the attack = %v, want success", err)
	}
	if g.DeviceToken != owner.DeviceToken {
		t.Errorf("SignIn(owner's device): device token changed, want it kept")
	}
	// The sessions outlived the attack: their refresh tokens still work.
	for _, old := range []*auth.Grant{reg, owner} {
		e.refresh(t, auth.RefreshRequest{AccessToken: old.AccessToken, RefreshToken: old.RefreshToken, Client: testClient})
	}
	if u, _ := e.svc.FindUser(ctx, email); u.Locked() {
		t.Errorf("account locked by failed sign-ins, want only an administrator to lock")
	}
	if got := e.events.Of(auth.EventAccountLocked); len(got) != 0 {
		t.Errorf("account_locked events = %+v, want none", got)
	}
}

// TestSignIn_DeviceTokenOfAnotherAccount: a device token is worth nothing
// for any account but its own, so an attacker's own account cannot lend
// its budget to an attack on another.
func TestSignIn_DeviceTokenOfAnotherAccount(t *testing.T) {
	e := newEnv(t, withLimits(auth.Limits{PairFreeFailures: 1, AccountFreeFailures: 1}))
	ctx := context.Background()
	e.register(t, "victim@example.com")
	e.register(t, "attacker@example.com")
	mine := e.signIn(t, "attacker@example.com", testPassword).DeviceToken
	var err error
	for range 3 {
		_, err = e.svc.SignIn(ctx, auth.Credentials{Email: "victim@example.com", Password: "guess",
			Client: auth.Client{IP: "198.51.100.1", Device: mine}})
	}
	if !isRateLimited(err) {
		t.Errorf("3rd guess at another account with one's own device token = %v, want rate limited", err)
	}
	for _, tok := range []string{mine[:len(mine)-1] + "A", "garbage", mine + "=="} {
		_, err := e.svc.SignIn(ctx, auth.Credentials{Email: "attacker@example.com", Password: "guess",
			Client: auth.Client{IP: "198.51.100.2", Device: tok}})
		if !errors.Is(err, auth.ErrInvalidCredentials) && !isRateLimited(err) {
			t.Errorf("SignIn(device %q) = %v, want an ordinary failure", tok, err)
		}
	}
}

// TestSignIn_CounterRoundTrips is issue 10's: at most two counter calls
// (round trips on Redis or PostgreSQL) per sign-in, whatever the outcome.
func TestSignIn_CounterRoundTrips(t *testing.T) {
	counter := &authtest.CountingCounter{}
	e := newEnv(t, func(c *auth.Config) {
		counter.Counter = auth.NewMemoryCounter(c.Now, 1000)
		c.Counter = counter
		c.Limits = auth.Limits{PairFreeFailures: 1}
	})
	e.register(t, "ada@example.com")
	tests := []struct {
		name, password string
		want           int64
	}{
		{"Success", testPassword, 2},
		{"WrongPassword", "wrong", 2},
		{"WrongPasswordBlocks", "wrong", 2},
		{"Refused", testPassword, 1},
	}
	for _, tc := range tests {
		before := counter.Calls()
		e.svc.SignIn(context.Background(), auth.Credentials{Email: "ada@example.com", Password: tc.password, Client: testClient})
		if got := counter.Calls() - before; got != tc.want {
			t.Errorf("%s: SignIn made %d counter calls, want %d", tc.name, got, tc.want)
		}
	}
}

// TestChangePassword_Budgeted: PUT /v1/auth/password used to verify
// current_password without limit (40 guesses, then the right one changed
// the password). Past the budget even the right one is refused.
func TestChangePassword_Budgeted(t *testing.T) {
	e := newEnv(t, withLimits(auth.Limits{}))
	g := e.register(t, "ada@example.com")
	p := mustAuth(t, e.svc, g.AccessToken)
	change := func(current string) error {
		_, err := e.svc.ChangePassword(context.Background(), p, auth.PasswordChange{
			CurrentPassword: current, Password: "new-secret-words-7", PasswordConfirmation: "new-secret-words-7", Client: testClient,
		})
		return err
	}
	guesses := 0
	for ; guesses < 40; guesses++ {
		if err := change(fmt.Sprint("guess ", guesses)); isRateLimited(err) {
			break
		}
	}
	if max := auth.DefaultLimits().PairFreeFailures + 1; guesses > max {
		t.Errorf("ChangePassword: %d wrong current passwords verified before 429, want at most %d", guesses, max)
	}
	if err := change(testPassword); !isRateLimited(err) {
		t.Errorf("ChangePassword(right current password) past the budget = %v, want rate limited", err)
	}
	e.clock.Advance(time.Hour)
	if err := change(testPassword); err != nil {
		t.Errorf("ChangePassword(right current password) after the back-off = %v, want success", err)
	}
}

// TestSignIn_BurstOnSharedCounters runs the burst of
// TestSignIn_BurstCannotDenyOwner through the service on the shared
// counters, whose clocks are their servers' (so without the days of
// guessing): at most the free budget plus one is verified, and the
// owner's device signs in at once.
func TestSignIn_BurstOnSharedCounters(t *testing.T) {
	backends := []struct {
		name    string
		counter func(t *testing.T) auth.Counter
	}{
		{"PostgreSQL", func(t *testing.T) auth.Counter {
			st, err := postgres.Open(context.Background(), authtest.PostgresDatabase(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st.Counter()
		}},
		{"Redis", func(t *testing.T) auth.Counter {
			client, err := redis.Open(context.Background(), authtest.RequireService(t, "GATEHOUSE_TEST_REDIS_URL"))
			if err != nil {
				t.Fatal(err)
			}
			prefix := "gatehouse-test:" + rand.Text() + ":"
			t.Cleanup(func() {
				// SCAN, not KEYS: the server may be shared.
				ctx := context.Background()
				iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
				for iter.Next(ctx) {
					client.Del(ctx, iter.Val())
				}
				client.Close()
			})
			return redis.NewCounter(client, prefix)
		}},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			counter := b.counter(t)
			e := newEnv(t, func(c *auth.Config) { c.Counter = counter })
			ctx := context.Background()
			const email = "victim@example.com"
			owner := e.register(t, email)
			device := e.signIn(t, email, testPassword).DeviceToken
			var verified atomic.Int64
			authtest.Concurrently(100, func(i int) {
				_, err := e.svc.SignIn(ctx, auth.Credentials{Email: email, Password: "wrong guess", Client: auth.Client{IP: fmt.Sprint("198.51.100.", i)}})
				if errors.Is(err, auth.ErrInvalidCredentials) {
					verified.Add(1)
				} else if !isRateLimited(err) {
					t.Errorf("SignIn(burst #%d) = %v, want invalid credentials or rate limited", i, err)
				}
			})
			if n, budget := verified.Load(), int64(auth.DefaultLimits().AccountFreeFailures+1); n > budget {
				t.Errorf("100 concurrent wrong sign-ins: %d verified, want at most %d", n, budget)
			}
			if _, err := e.svc.SignIn(ctx, auth.Credentials{Email: email, Password: testPassword,
				Client: auth.Client{IP: "203.0.113.99", Device: device}}); err != nil {
				t.Errorf("SignIn(owner's device) after the burst = %v, want success", err)
			}
			mustAuth(t, e.svc, owner.AccessToken)
		})
	}
}
