package authtest

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/passkey"
)

// hint is a user's second-factor hint as the store keeps it.
type hint struct {
	set     bool
	version int64
}

func readHint(t *testing.T, st auth.Store, id int64) hint {
	t.Helper()
	u, err := st.UserByID(context.Background(), id)
	if err != nil {
		t.Fatalf("UserByID(%d) = %v", id, err)
	}
	return hint{set: u.MayHaveSecondFactor, version: u.FactorVersion}
}

// checkHint compares the hint after a step with what the step should
// leave: set or not, and whether factor_version moved past before.
func checkHint(t *testing.T, st auth.Store, id int64, step string, before hint, wantSet, wantBump bool) hint {
	t.Helper()
	got := readHint(t, st, id)
	if got.set != wantSet {
		t.Errorf("after %s: MayHaveSecondFactor = %v, want %v", step, got.set, wantSet)
	}
	if bumped := got.version > before.version; bumped != wantBump {
		t.Errorf("after %s: FactorVersion %d → %d, want moved: %v", step, before.version, got.version, wantBump)
	}
	return got
}

// testSecondFactorHintTOTP: a TOTP secret sets the hint when confirmed,
// not when enrolled nor when used; recovery codes set it; a clear is a
// compare-and-swap on the version read before, which a factor added
// since (the race auth.Service's clearing must survive) defeats.
func testSecondFactorHintTOTP(t *testing.T, st MFAStore) {
	ctx := t.Context()
	u, _ := mustCreateUser(t, st, "ada@example.com")
	h := checkHint(t, st, u.ID, "CreateUser", hint{}, false, false)

	sealed := []byte("secret")
	if err := st.PutTOTP(ctx, u.ID, sealed, t0); err != nil {
		t.Fatalf("PutTOTP = %v", err)
	}
	h = checkHint(t, st, u.ID, "PutTOTP (unconfirmed)", h, false, false)
	if err := st.UseTOTPStep(ctx, u.ID, sealed, 100, t0, true); err != nil {
		t.Fatalf("UseTOTPStep(confirm) = %v", err)
	}
	h = checkHint(t, st, u.ID, "UseTOTPStep(confirm)", h, true, true)
	if err := st.UseTOTPStep(ctx, u.ID, sealed, 101, t0.Add(time.Minute), false); err != nil {
		t.Fatalf("UseTOTPStep = %v", err)
	}
	h = checkHint(t, st, u.ID, "UseTOTPStep (a sign-in)", h, true, false)

	if err := st.ClearSecondFactorHint(ctx, u.ID, h.version-1); err != nil {
		t.Fatalf("ClearSecondFactorHint(stale version) = %v", err)
	}
	h = checkHint(t, st, u.ID, "ClearSecondFactorHint(stale version)", h, true, false)
	if err := st.ClearSecondFactorHint(ctx, u.ID, h.version); err != nil {
		t.Fatalf("ClearSecondFactorHint = %v", err)
	}
	h = checkHint(t, st, u.ID, "ClearSecondFactorHint", h, false, false)

	read := h // a clearing request reads the version, then asks the factors...
	if err := st.ReplaceRecoveryCodes(ctx, u.ID, [][]byte{[]byte("a"), []byte("b")}, t0); err != nil {
		t.Fatalf("ReplaceRecoveryCodes = %v", err)
	}
	h = checkHint(t, st, u.ID, "ReplaceRecoveryCodes", h, true, true)
	// ...and swaps after a factor was added behind its back.
	if err := st.ClearSecondFactorHint(ctx, u.ID, read.version); err != nil {
		t.Fatalf("ClearSecondFactorHint(version before ReplaceRecoveryCodes) = %v", err)
	}
	checkHint(t, st, u.ID, "ClearSecondFactorHint(version before ReplaceRecoveryCodes)", h, true, false)

	if err := st.ClearSecondFactorHint(ctx, u.ID+1000, 0); err != nil {
		t.Errorf("ClearSecondFactorHint(absent user) = %v, want nil", err)
	}
}

// testSecondFactorHintPasskey: a passkey sets the hint as it is added,
// also when a clear raced with it.
func testSecondFactorHintPasskey(t *testing.T, st PasskeyStore) {
	u, _ := mustCreateUser(t, st, "ada@example.com")
	read := checkHint(t, st, u.ID, "CreateUser", hint{}, false, false)
	mustAddPasskey(t, st, newPasskey(u.ID, "one", t0))
	h := checkHint(t, st, u.ID, "AddPasskey", read, true, true)
	if err := st.ClearSecondFactorHint(t.Context(), u.ID, read.version); err != nil {
		t.Fatalf("ClearSecondFactorHint(version before AddPasskey) = %v", err)
	}
	checkHint(t, st, u.ID, "ClearSecondFactorHint(version before AddPasskey)", h, true, false)
}

// FactorStore is a backend with every kind of second factor.
type FactorStore interface {
	auth.Store
	mfa.Store
	passkey.Store
}

// RunFactorHintBackfillTest checks the migration that added the hint: it
// sets it for every user with a factor, and for no other. undo takes st's
// database back to before that migration (the hint's columns and triggers
// gone, its schema_migrations row deleted); migrate applies what is
// missing again.
func RunFactorHintBackfillTest(t *testing.T, st FactorStore, undo func(), migrate func() error) {
	ctx := t.Context()
	users := map[string]bool{} // email → want the hint
	add := func(email string, want bool, factor func(id int64) error) {
		u, _ := mustCreateUser(t, st, email)
		if err := factor(u.ID); err != nil {
			t.Fatalf("adding the factor of %s = %v", email, err)
		}
		users[email] = want
	}
	add("totp@example.com", true, func(id int64) error {
		if err := st.PutTOTP(ctx, id, []byte("s"), t0); err != nil {
			return err
		}
		return st.UseTOTPStep(ctx, id, []byte("s"), 1, t0, true)
	})
	add("codes@example.com", true, func(id int64) error {
		return st.ReplaceRecoveryCodes(ctx, id, [][]byte{[]byte("a")}, t0)
	})
	add("passkey@example.com", true, func(id int64) error { return st.AddPasskey(ctx, newPasskey(id, "pk", t0)) })
	add("none@example.com", false, func(int64) error { return nil })

	undo()
	if err := migrate(); err != nil {
		t.Fatalf("migrate after undoing the hint's migration = %v", err)
	}
	for email, want := range users {
		u, err := st.UserByEmail(ctx, email)
		if err != nil {
			t.Fatalf("UserByEmail(%q) = %v", email, err)
		}
		if u.MayHaveSecondFactor != want {
			t.Errorf("%s after the migration: MayHaveSecondFactor = %v, want %v", email, u.MayHaveSecondFactor, want)
		}
	}
}
