package auth_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/railsimport"
)

// pacedEnv is a store holding argon2id users (cheap parameters) and an
// imported bcrypt user whose cost makes its verification many times
// slower, as a Rails import does in production (cost 12: ~255 ms against
// ~35 ms). Locked users of both kinds complete the failure paths.
func pacedEnv(t *testing.T) *env {
	t.Helper()
	params := password.Params{Memory: 256, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	e := newEnv(t, func(c *auth.Config) { c.Hasher = password.NewHasher(params) })
	e.register(t, "argon@example.com")
	locked := e.register(t, "locked@example.com")
	legacy, err := bcrypt.GenerateFromPassword([]byte(testPassword), 8)
	if err != nil {
		t.Fatal(err)
	}
	importText(t, e.svc, railsimport.CSV, fmt.Sprintf("id,email,password_digest\n100,legacy@example.com,%[1]s\n101,locked-legacy@example.com,%[1]s\n", legacy))
	for _, id := range []int64{locked.UserID, 101} {
		if err := e.svc.LockUser(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// TestSignInFailuresTakeTheSameTime: every failing sign-in — unknown
// email, wrong password against argon2id or bcrypt, a password over
// bcrypt's 72 bytes, a locked account — answers in the same time, so the
// time does not tell whether an account exists or what hash it holds.
// Medians of interleaved runs are compared against the slowest real path
// (a wrong password against bcrypt), which is itself checked to be well
// above a successful argon2id sign-in, or the comparison would prove
// nothing.
func TestSignInFailuresTakeTheSameTime(t *testing.T) {
	// A busy machine (the rest of the suite runs beside this test) can
	// stretch one path's hashes and not another's. A real difference shows
	// in every attempt; noise does not, so the test fails only if each of
	// a few attempts, on a fresh service, does.
	const attempts = 3
	var problems []string
	for range attempts {
		problems = failureTimingProblems(t)
		if len(problems) == 0 {
			return
		}
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// failureTimingProblems runs the paths of TestSignInFailuresTakeTheSameTime
// interleaved on a fresh service and describes each whose median is off.
func failureTimingProblems(t *testing.T) []string {
	e := pacedEnv(t)
	if _, _, err := e.svc.CalibrateFailures(context.Background()); err != nil {
		t.Fatal(err)
	}
	paths := []struct {
		name, email, password string
		fails                 bool
	}{
		{"bcrypt_wrong_password", "legacy@example.com", "wrong password", true}, // the reference
		{"unknown_email", "nobody@example.com", "wrong password", true},
		{"argon2id_wrong_password", "argon@example.com", "wrong password", true},
		{"bcrypt_password_over_72_bytes", "legacy@example.com", strings.Repeat("p", 100), true},
		{"locked_argon2id", "locked@example.com", testPassword, true},
		{"locked_bcrypt", "locked-legacy@example.com", testPassword, true},
		{"argon2id_success", "argon@example.com", testPassword, false},
	}
	const runs = 9
	took := make([][]time.Duration, len(paths))
	for range runs {
		for i, p := range paths {
			start := time.Now()
			_, err := e.svc.SignIn(context.Background(), auth.Credentials{Email: p.email, Password: p.password, Client: testClient})
			took[i] = append(took[i], time.Since(start))
			if p.fails != errors.Is(err, auth.ErrInvalidCredentials) {
				t.Fatalf("SignIn(%s) = %v, want invalid credentials: %v", p.name, err, p.fails)
			}
		}
	}
	median := func(d []time.Duration) time.Duration { slices.Sort(d); return d[len(d)/2] }
	ref := median(took[0])
	success := median(took[len(paths)-1])
	if ref < 3*success {
		return []string{fmt.Sprintf("median bcrypt failure %v, argon2id success %v: want bcrypt at least 3 times slower for the test to mean anything", ref, success)}
	}
	tolerance := ref/4 + 2*time.Millisecond
	var problems []string
	for i, p := range paths[1 : len(paths)-1] {
		if m := median(took[i+1]); m < ref-tolerance || m > ref+tolerance {
			problems = append(problems, fmt.Sprintf("median SignIn(%s) took %v, bcrypt wrong password %v: want within %v", p.name, m, ref, tolerance))
		}
	}
	return problems
}

// TestCalibrateFailures: before any sign-in of a bcrypt account has
// failed, the floor already covers it once the store has been read, so
// even the first such failure does not stand out.
func TestCalibrateFailures(t *testing.T) {
	e := pacedEnv(t)
	// A busy machine can stretch the fresh node's first (tiny) hash, which
	// sets its floor, to a bcrypt's length; that inflates "before", never
	// "after". So a few fresh nodes are tried: calibration that does not
	// cover bcrypt fails every attempt.
	const attempts = 3
	var problems []string
	for range attempts {
		h := password.NewHasher(password.Params{Memory: 256, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
		e.svc = e.newNode(t, func(c *auth.Config) { c.Hasher = h }) // a node that has verified nothing
		before := h.FailureFloor()
		classes, after, err := e.svc.CalibrateFailures(context.Background())
		if err != nil || classes != 2 {
			t.Fatalf("CalibrateFailures() = %d classes, %v; want 2 (argon2id, bcrypt cost 8)", classes, err)
		}
		if after != h.FailureFloor() {
			t.Fatalf("CalibrateFailures reported floor %v, the hasher has %v", after, h.FailureFloor())
		}
		if after >= 4*before {
			return
		}
		problems = append(problems, fmt.Sprintf("%v before calibrating, %v after", before, after))
	}
	t.Errorf("FailureFloor in %d fresh nodes: %s; want bcrypt cost 8 to raise it at least fourfold", attempts, strings.Join(problems, "; "))
}
