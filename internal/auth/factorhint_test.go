package auth_test

import (
	"context"
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// countingFactor is a fakeFactor that counts its reads, and runs
// afterRead once after the next one: a factor another request adds
// between this request's read and what it does next.
type countingFactor struct {
	*fakeFactor
	reads     int
	afterRead func()
}

func (f *countingFactor) Enrolled(ctx context.Context, id int64) (bool, error) {
	f.reads++
	ok, err := f.fakeFactor.Enrolled(ctx, id)
	if hook := f.afterRead; hook != nil {
		f.afterRead = nil
		hook()
	}
	return ok, err
}

func newCountingFactor(e *env) *countingFactor {
	f := &countingFactor{fakeFactor: &fakeFactor{kind: auth.MethodTOTP, enrolled: map[int64]bool{}}}
	e.svc.AddSecondFactor(f)
	return f
}

func hintOf(t *testing.T, e *env, id int64) bool {
	t.Helper()
	u, err := e.store.UserByID(t.Context(), id)
	if err != nil {
		t.Fatalf("UserByID(%d) = %v", id, err)
	}
	return u.MayHaveSecondFactor
}

// TestSignInAsksFactorsOnlyWithHint: a password sign-in of a user who
// never had a factor reads none; once one is added, it asks them all.
func TestSignInAsksFactorsOnlyWithHint(t *testing.T) {
	e := newEnv(t)
	f := newCountingFactor(e)
	id := e.register(t, "ada@example.com").UserID
	if g := e.signIn(t, "ada@example.com", testPassword); len(g.SecondFactors) != 0 || f.reads != 0 {
		t.Errorf("SignIn without a factor: SecondFactors %q after %d factor reads, want none after 0", g.SecondFactors, f.reads)
	}
	f.enrolled[id] = true
	markFactorAdded(t, e, id)
	if g := e.signIn(t, "ada@example.com", testPassword); !slices.Equal(g.SecondFactors, []auth.Method{auth.MethodTOTP}) || f.reads != 1 {
		t.Errorf("SignIn with a factor: SecondFactors %q after %d factor reads, want [totp] after 1", g.SecondFactors, f.reads)
	}
}

// TestFactorHintCleared: the removal of a user's last factor clears the
// hint, so sign-ins stop asking, except when a factor was added while
// the removal asked the factors: then the hint must stay, or the new
// factor's second step would be skipped.
func TestFactorHintCleared(t *testing.T) {
	factorRemoved := func(e *env, id int64) error {
		return e.svc.FactorRemoved(context.Background(), id, auth.MethodTOTP, testClient)
	}
	resetSecondFactors := func(e *env, id int64) error {
		_, err := e.svc.ResetSecondFactors(context.Background(), id)
		return err
	}
	for _, tc := range []struct {
		name string
		// enrolled: whether the factor is enrolled when remove runs (a
		// package reports its removal after it; a reset removes it).
		enrolled        bool
		remove          func(e *env, id int64) error
		addedMeanwhile  bool // a factor is added after remove's first read
		wantHint        bool
		wantSignInReads int
	}{
		{name: "FactorRemoved/LastFactor", remove: factorRemoved, wantHint: false, wantSignInReads: 0},
		{name: "FactorRemoved/FactorLeft", enrolled: true, remove: factorRemoved, wantHint: true, wantSignInReads: 1},
		{name: "FactorRemoved/FactorAddedMeanwhile", remove: factorRemoved, addedMeanwhile: true, wantHint: true, wantSignInReads: 1},
		{name: "ResetSecondFactors", enrolled: true, remove: resetSecondFactors, wantHint: false, wantSignInReads: 0},
		{name: "ResetSecondFactors/FactorAddedMeanwhile", enrolled: true, remove: resetSecondFactors, addedMeanwhile: true, wantHint: true, wantSignInReads: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			f := newCountingFactor(e)
			id := e.register(t, "ada@example.com").UserID
			markFactorAdded(t, e, id)
			f.enrolled[id] = tc.enrolled
			if tc.addedMeanwhile {
				f.afterRead = func() { markFactorAdded(t, e, id) }
			}
			if err := tc.remove(e, id); err != nil {
				t.Fatalf("remove = %v", err)
			}
			if got := hintOf(t, e, id); got != tc.wantHint {
				t.Errorf("MayHaveSecondFactor after the removal = %v, want %v", got, tc.wantHint)
			}
			before := f.reads
			e.signIn(t, "ada@example.com", testPassword)
			if got := f.reads - before; got != tc.wantSignInReads {
				t.Errorf("SignIn after the removal read the factor %d times, want %d", got, tc.wantSignInReads)
			}
		})
	}
}
