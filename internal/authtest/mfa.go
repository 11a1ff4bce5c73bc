package authtest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/mfa"
)

// MFAStore is a backend that keeps users and second factors.
type MFAStore interface {
	auth.Store
	mfa.Store
}

// RunMFAStoreTests runs the mfa.Store contract against a backend; newStore
// is as for RunStoreTests.
func RunMFAStoreTests(t *testing.T, newStore func(t *testing.T) MFAStore) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, st MFAStore)
	}{
		{"TOTP", testTOTP},
		{"TOTP_Confirmed", testTOTPConfirmed},
		{"TOTP_StepConcurrent", testTOTPStepConcurrent},
		{"TOTP_DeleteUnconfirmed", testDeleteUnconfirmedTOTP},
		{"RecoveryCodes", testRecoveryCodes},
		{"RecoveryCodes_Concurrent", testRecoveryCodesConcurrent},
		{"RecoveryCodes_Restore", testRestoreRecoveryCode},
		{"DeleteUser", testMFADeleteUser},
		{"SecondFactorHint", testSecondFactorHintTOTP},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newStore(t))
		})
	}
}

func testTOTP(t *testing.T, st MFAStore) {
	ctx := t.Context()
	u, _ := mustCreateUser(t, st, "ada@example.com")
	if _, err := st.TOTP(ctx, u.ID); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("TOTP(%d) before PutTOTP = %v, want ErrNotFound", u.ID, err)
	}
	checkNotFound(t, "PutTOTP(absent user)", st.PutTOTP(ctx, u.ID+100, []byte("x"), t0))
	for i, sealed := range [][]byte{[]byte("first"), []byte("second")} {
		at := t0.Add(time.Duration(i) * time.Minute)
		if err := st.PutTOTP(ctx, u.ID, sealed, at); err != nil {
			t.Fatalf("PutTOTP(%d, %q) = %v", u.ID, sealed, err)
		}
		got, err := st.TOTP(ctx, u.ID)
		want := &mfa.TOTP{UserID: u.ID, Sealed: sealed, CreatedAt: at}
		if err != nil || !cmp.Equal(got, want) {
			t.Errorf("TOTP(%d) after an unconfirmed PutTOTP = %+v, %v, want %+v", u.ID, got, err, want)
		}
	}
	// Confirming needs the current secret and an unconfirmed row.
	if err := st.UseTOTPStep(ctx, u.ID, []byte("first"), 10, t0, true); !errors.Is(err, auth.ErrConflict) {
		t.Errorf("UseTOTPStep(replaced secret) = %v, want ErrConflict", err)
	}
	if err := st.UseTOTPStep(ctx, u.ID, []byte("second"), 10, t0, false); !errors.Is(err, auth.ErrConflict) {
		t.Errorf("UseTOTPStep(unconfirmed, confirm false) = %v, want ErrConflict", err)
	}
	if err := st.DeleteTOTP(ctx, u.ID); err != nil {
		t.Fatalf("DeleteTOTP(%d) = %v", u.ID, err)
	}
	if _, err := st.TOTP(ctx, u.ID); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("TOTP(%d) after DeleteTOTP = %v, want ErrNotFound", u.ID, err)
	}
	if err := st.DeleteTOTP(ctx, u.ID); err != nil {
		t.Errorf("DeleteTOTP(%d) with nothing to delete = %v, want nil", u.ID, err)
	}
}

func testTOTPConfirmed(t *testing.T, st MFAStore) {
	ctx := t.Context()
	u, _ := mustCreateUser(t, st, "ada@example.com")
	sealed := []byte("secret")
	if err := st.PutTOTP(ctx, u.ID, sealed, t0); err != nil {
		t.Fatalf("PutTOTP = %v", err)
	}
	confirmed := t0.Add(time.Minute)
	if err := st.UseTOTPStep(ctx, u.ID, sealed, 100, confirmed, true); err != nil {
		t.Fatalf("UseTOTPStep(confirm) = %v", err)
	}
	tests := []struct {
		name    string
		step    int64
		confirm bool
		want    error
	}{
		{name: "ConfirmAgain", step: 101, confirm: true, want: auth.ErrConflict},
		{name: "SameStep", step: 100, want: auth.ErrConflict},
		{name: "EarlierStep", step: 99, want: auth.ErrConflict},
		{name: "LaterStep", step: 101, want: nil},
		{name: "LaterStepAgain", step: 101, want: auth.ErrConflict},
	}
	for _, tt := range tests {
		if err := st.UseTOTPStep(ctx, u.ID, sealed, tt.step, t0.Add(time.Hour), tt.confirm); !errors.Is(err, tt.want) {
			t.Errorf("UseTOTPStep(%s) = %v, want %v", tt.name, err, tt.want)
		}
	}
	want := &mfa.TOTP{UserID: u.ID, Sealed: sealed, CreatedAt: t0, ConfirmedAt: confirmed, LastStep: 101}
	if got, err := st.TOTP(ctx, u.ID); err != nil || !cmp.Equal(got, want) {
		t.Errorf("TOTP(%d) = %+v, %v, want %+v", u.ID, got, err, want)
	}
	if err := st.PutTOTP(ctx, u.ID, []byte("other"), t0.Add(2*time.Hour)); !errors.Is(err, auth.ErrConflict) {
		t.Errorf("PutTOTP over a confirmed secret = %v, want ErrConflict", err)
	}
}

func testTOTPStepConcurrent(t *testing.T, st MFAStore) {
	ctx := t.Context()
	u, _ := mustCreateUser(t, st, "ada@example.com")
	sealed := []byte("secret")
	if err := st.PutTOTP(ctx, u.ID, sealed, t0); err != nil {
		t.Fatalf("PutTOTP = %v", err)
	}
	const n = 8
	errs := make([]error, n)
	Concurrently(n, func(i int) { errs[i] = st.UseTOTPStep(ctx, u.ID, sealed, 7, t0, true) })
	wantOneWinner(t, "UseTOTPStep", errs, auth.ErrConflict)
}

func testDeleteUnconfirmedTOTP(t *testing.T, st MFAStore) {
	ctx := t.Context()
	u, _ := mustCreateUser(t, st, "ada@example.com")
	checkNotFound(t, "DeleteUnconfirmedTOTP(no secret)", st.DeleteUnconfirmedTOTP(ctx, u.ID))
	sealed := []byte("secret")
	if err := st.PutTOTP(ctx, u.ID, sealed, t0); err != nil {
		t.Fatalf("PutTOTP = %v", err)
	}
	if err := st.DeleteUnconfirmedTOTP(ctx, u.ID); err != nil {
		t.Fatalf("DeleteUnconfirmedTOTP(unconfirmed) = %v", err)
	}
	if _, err := st.TOTP(ctx, u.ID); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("TOTP(%d) after DeleteUnconfirmedTOTP = %v, want ErrNotFound", u.ID, err)
	}
	if err := st.PutTOTP(ctx, u.ID, sealed, t0); err != nil {
		t.Fatalf("PutTOTP = %v", err)
	}
	if err := st.UseTOTPStep(ctx, u.ID, sealed, 100, t0, true); err != nil {
		t.Fatalf("UseTOTPStep(confirm) = %v", err)
	}
	checkNotFound(t, "DeleteUnconfirmedTOTP(confirmed)", st.DeleteUnconfirmedTOTP(ctx, u.ID))
	if got, err := st.TOTP(ctx, u.ID); err != nil || got.ConfirmedAt.IsZero() {
		t.Errorf("TOTP(%d) after DeleteUnconfirmedTOTP of a confirmed secret = %+v, %v, want it kept", u.ID, got, err)
	}
}

func testRecoveryCodes(t *testing.T, st MFAStore) {
	ctx := t.Context()
	u, _ := mustCreateUser(t, st, "ada@example.com")
	old := [][]byte{[]byte("old-1"), []byte("old-2")}
	if err := st.ReplaceRecoveryCodes(ctx, u.ID, old, t0); err != nil {
		t.Fatalf("ReplaceRecoveryCodes(old) = %v", err)
	}
	fresh := [][]byte{[]byte("new-1"), []byte("new-2"), []byte("new-3")}
	if err := st.ReplaceRecoveryCodes(ctx, u.ID, fresh, t0.Add(time.Minute)); err != nil {
		t.Fatalf("ReplaceRecoveryCodes(new) = %v", err)
	}
	checkNotFound(t, "UseRecoveryCode(replaced code)", st.UseRecoveryCode(ctx, u.ID, old[0], t0))
	if err := st.UseRecoveryCode(ctx, u.ID, fresh[1], t0); err != nil {
		t.Fatalf("UseRecoveryCode(new-2) = %v", err)
	}
	checkNotFound(t, "UseRecoveryCode(used code)", st.UseRecoveryCode(ctx, u.ID, fresh[1], t0))
	other, _ := mustCreateUser(t, st, "grace@example.com")
	checkNotFound(t, "UseRecoveryCode(another user's code)", st.UseRecoveryCode(ctx, other.ID, fresh[0], t0))
	if n, err := st.RecoveryCodesLeft(ctx, u.ID); err != nil || n != 2 {
		t.Errorf("RecoveryCodesLeft(%d) = %d, %v, want 2", u.ID, n, err)
	}
	if err := st.DeleteRecoveryCodes(ctx, u.ID); err != nil {
		t.Fatalf("DeleteRecoveryCodes = %v", err)
	}
	if n, err := st.RecoveryCodesLeft(ctx, u.ID); err != nil || n != 0 {
		t.Errorf("RecoveryCodesLeft(%d) after DeleteRecoveryCodes = %d, %v, want 0", u.ID, n, err)
	}
	checkNotFound(t, "ReplaceRecoveryCodes(absent user)", st.ReplaceRecoveryCodes(ctx, u.ID+100, fresh, t0))
}

func testRecoveryCodesConcurrent(t *testing.T, st MFAStore) {
	ctx := t.Context()
	u, _ := mustCreateUser(t, st, "ada@example.com")
	code := []byte("only")
	if err := st.ReplaceRecoveryCodes(ctx, u.ID, [][]byte{code}, t0); err != nil {
		t.Fatalf("ReplaceRecoveryCodes = %v", err)
	}
	const n = 8
	errs := make([]error, n)
	Concurrently(n, func(i int) { errs[i] = st.UseRecoveryCode(ctx, u.ID, code, t0) })
	wantOneWinner(t, "UseRecoveryCode", errs, auth.ErrNotFound)
}

func testRestoreRecoveryCode(t *testing.T, st MFAStore) {
	ctx := t.Context()
	u, _ := mustCreateUser(t, st, "ada@example.com")
	codes := [][]byte{[]byte("c-1"), []byte("c-2")}
	if err := st.ReplaceRecoveryCodes(ctx, u.ID, codes, t0); err != nil {
		t.Fatalf("ReplaceRecoveryCodes = %v", err)
	}
	for _, c := range codes {
		if err := st.UseRecoveryCode(ctx, u.ID, c, t0); err != nil {
			t.Fatalf("UseRecoveryCode(%q) = %v", c, err)
		}
	}
	// A restored code is a usable factor again: it sets the hint, even
	// after a clear that saw no code left (auth/factorhint.go).
	h := readHint(t, st, u.ID)
	if err := st.ClearSecondFactorHint(ctx, u.ID, h.version); err != nil {
		t.Fatalf("ClearSecondFactorHint = %v", err)
	}
	h = checkHint(t, st, u.ID, "ClearSecondFactorHint", h, false, false)
	if err := st.RestoreRecoveryCode(ctx, u.ID, codes[0]); err != nil {
		t.Fatalf("RestoreRecoveryCode(%q) = %v", codes[0], err)
	}
	checkHint(t, st, u.ID, "RestoreRecoveryCode", h, true, true)
	if n, err := st.RecoveryCodesLeft(ctx, u.ID); err != nil || n != 1 {
		t.Errorf("RecoveryCodesLeft(%d) after restoring one of two used codes = %d, %v, want 1", u.ID, n, err)
	}
	if err := st.UseRecoveryCode(ctx, u.ID, codes[0], t0); err != nil {
		t.Errorf("UseRecoveryCode(restored code) = %v, want nil", err)
	}
	checkNotFound(t, "UseRecoveryCode(used code, not restored)", st.UseRecoveryCode(ctx, u.ID, codes[1], t0))
	other, _ := mustCreateUser(t, st, "grace@example.com")
	if err := st.RestoreRecoveryCode(ctx, other.ID, codes[1]); err != nil {
		t.Errorf("RestoreRecoveryCode(another user's code) = %v, want nil", err)
	}
	checkNotFound(t, "UseRecoveryCode(used code another user restored)", st.UseRecoveryCode(ctx, u.ID, codes[1], t0))
	if err := st.ReplaceRecoveryCodes(ctx, u.ID, [][]byte{[]byte("new")}, t0); err != nil {
		t.Fatalf("ReplaceRecoveryCodes = %v", err)
	}
	if err := st.RestoreRecoveryCode(ctx, u.ID, codes[1]); err != nil {
		t.Errorf("RestoreRecoveryCode(replaced code) = %v, want nil", err)
	}
	if n, err := st.RecoveryCodesLeft(ctx, u.ID); err != nil || n != 1 {
		t.Errorf("RecoveryCodesLeft(%d) after restoring a replaced code = %d, %v, want 1 (the new one)", u.ID, n, err)
	}
}

func testMFADeleteUser(t *testing.T, st MFAStore) {
	ctx := t.Context()
	u, _ := mustCreateUser(t, st, "ada@example.com")
	if err := st.PutTOTP(ctx, u.ID, []byte("secret"), t0); err != nil {
		t.Fatalf("PutTOTP = %v", err)
	}
	if err := st.ReplaceRecoveryCodes(ctx, u.ID, [][]byte{[]byte("c")}, t0); err != nil {
		t.Fatalf("ReplaceRecoveryCodes = %v", err)
	}
	if _, err := st.DeleteUser(ctx, u.ID); err != nil {
		t.Fatalf("DeleteUser = %v", err)
	}
	if _, err := st.TOTP(ctx, u.ID); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("TOTP of a deleted user = %v, want ErrNotFound", err)
	}
	if n, err := st.RecoveryCodesLeft(ctx, u.ID); err != nil || n != 0 {
		t.Errorf("RecoveryCodesLeft of a deleted user = %d, %v, want 0", n, err)
	}
}

// wantOneWinner checks that of concurrent calls exactly one succeeded and
// the others failed with loser.
func wantOneWinner(t *testing.T, call string, errs []error, loser error) {
	t.Helper()
	var ok int
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, loser):
			t.Errorf("%s in goroutine %d = %v, want nil or %v", call, i, err, loser)
		}
	}
	if ok != 1 {
		t.Errorf("%d concurrent %s: %d succeeded, want 1", len(errs), call, ok)
	}
}

// TOTPCode is the code an authenticator app shows for secret at at.
func TOTPCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatalf("GenerateCodeCustom = %v", err)
	}
	return c
}
