package mfa_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authtest"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/sqlite"
)

func TestRecoveryCodes(t *testing.T) {
	e := newEnv(t)
	_, codes := e.enrolled(t, e.user(t, "ada@example.com"))
	if len(codes) != 10 {
		t.Fatalf("ConfirmTOTP returned %d recovery codes, want 10", len(codes))
	}
	_, p := e.pending(t, "ada@example.com")
	typed := strings.ToUpper(strings.ReplaceAll(codes[3], "-", " "))
	g, err := e.mfa.Verify(t.Context(), p, mfa.Proof{Method: auth.MethodRecoveryCode, Code: typed}, client)
	if err != nil {
		t.Fatalf("Verify(recovery code %q) = %v", typed, err)
	}
	if got := e.principal(t, g).Methods; !slices.Equal(got, []auth.Method{auth.MethodPassword, auth.MethodRecoveryCode}) {
		t.Errorf("Methods after a recovery code = %q", got)
	}
	if e.count(auth.EventRecoveryCodeUsed) != 1 {
		t.Errorf("recovery_code_used events = %d, want 1", e.count(auth.EventRecoveryCodeUsed))
	}
	_, again := e.pending(t, "ada@example.com")
	if _, err := e.mfa.Verify(t.Context(), again, mfa.Proof{Method: auth.MethodRecoveryCode, Code: codes[3]}, client); !errors.Is(err, auth.ErrFactorInvalid) {
		t.Errorf("Verify(used recovery code) = %v, want ErrFactorInvalid", err)
	}

	// Regenerating voids every old code.
	fresh, err := e.mfa.RegenerateRecoveryCodes(t.Context(), e.principal(t, g), client)
	if err != nil {
		t.Fatalf("RegenerateRecoveryCodes = %v", err)
	}
	if _, err := e.mfa.Verify(t.Context(), again, mfa.Proof{Method: auth.MethodRecoveryCode, Code: codes[4]}, client); !errors.Is(err, auth.ErrFactorInvalid) {
		t.Errorf("Verify(code from before regenerating) = %v, want ErrFactorInvalid", err)
	}
	if _, err := e.mfa.Verify(t.Context(), again, mfa.Proof{Method: auth.MethodRecoveryCode, Code: fresh[0]}, client); err != nil {
		t.Errorf("Verify(new code) = %v", err)
	}
}

// TestRecoveryCodeRace: two finishes of one pending sign-in racing with
// two recovery codes (a double submit): one wins, the other is refused,
// and only the winner's code is spent, audited and mailed; the loser's
// still works.
func TestRecoveryCodeRace(t *testing.T) {
	const owner = "ada@example.com"
	e := newEnv(t)
	user := e.user(t, owner)
	_, codes := e.enrolled(t, user)
	_, p := e.pending(t, owner)
	e.newMails(t)
	errs := make([]error, 2)
	authtest.Concurrently(2, func(i int) {
		_, errs[i] = e.mfa.Verify(context.Background(), p, mfa.Proof{Method: auth.MethodRecoveryCode, Code: codes[i]}, client)
	})
	loser := -1
	for i, err := range errs {
		switch {
		case errors.Is(err, auth.ErrNotAuthorized):
			loser = i
		case err != nil:
			t.Errorf("Verify(recovery code %d) racing another = %v, want nil or ErrNotAuthorized", i, err)
		}
	}
	if loser < 0 || errs[1-loser] != nil {
		t.Fatalf("two racing Verify(recovery code) = %v; want one winner and one ErrNotAuthorized", errs)
	}
	if got := e.codesLeft(t, user.UserID); got != 9 {
		t.Errorf("recovery codes left after two racing finishes = %d, want 9 (the winner's spent)", got)
	}
	if got := e.count(auth.EventRecoveryCodeUsed); got != 1 {
		t.Errorf("recovery_code_used events = %d, want 1", got)
	}
	e.wantMails(t, "two racing finishes", notice{auth.KindRecoveryCodeUsed, owner})

	_, again := e.pending(t, owner)
	if _, err := e.mfa.Verify(t.Context(), again, mfa.Proof{Method: auth.MethodRecoveryCode, Code: codes[loser]}, client); err != nil {
		t.Errorf("Verify(the losing code) on a new sign-in = %v, want it still usable", err)
	}
}

// TestRecoveryCodeKeptWhenRefused: a recovery code presented for a
// finish or a step-up that the session refuses is not spent, nor audited
// or mailed as used.
func TestRecoveryCodeKeptWhenRefused(t *testing.T) {
	const owner = "ada@example.com"
	tests := []struct {
		name string
		// present presents recovery, a recovery code, for what the session will refuse.
		present func(t *testing.T, e *env, secret, recovery string) error
		want    error
	}{
		{
			// The sign-in was finished by another request, while this
			// one's principal (another node's cache) still says pending.
			name: "FinishOfAFinishedSignIn",
			present: func(t *testing.T, e *env, secret, recovery string) error {
				_, p := e.pending(t, owner)
				if _, err := e.mfa.Verify(t.Context(), p, mfa.Proof{Method: auth.MethodTOTP, Code: code(t, secret, e.clock.Now())}, client); err != nil {
					t.Fatalf("Verify(totp) = %v", err)
				}
				_, err := e.mfa.Verify(t.Context(), p, mfa.Proof{Method: auth.MethodRecoveryCode, Code: recovery}, client)
				return err
			},
			want: auth.ErrNotAuthorized,
		},
		{
			name: "StepUpOfASignedOutSession",
			present: func(t *testing.T, e *env, secret, recovery string) error {
				_, pending := e.pending(t, owner)
				g, err := e.mfa.Verify(t.Context(), pending, mfa.Proof{Method: auth.MethodTOTP, Code: code(t, secret, e.clock.Now())}, client)
				if err != nil {
					t.Fatalf("Verify(totp) = %v", err)
				}
				p := e.principal(t, g)
				if err := e.auth.SignOut(t.Context(), p, client); err != nil {
					t.Fatalf("SignOut = %v", err)
				}
				return e.mfa.Reauthenticate(t.Context(), p, mfa.Proof{Method: auth.MethodRecoveryCode, Code: recovery}, "", client)
			},
			want: auth.ErrNotAuthorized,
		},
		{
			name: "StepUpOfAPendingSession",
			present: func(t *testing.T, e *env, _, recovery string) error {
				_, p := e.pending(t, owner)
				return e.mfa.Reauthenticate(t.Context(), p, mfa.Proof{Method: auth.MethodRecoveryCode, Code: recovery}, "", client)
			},
			want: auth.ErrMFARequired,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			user := e.user(t, owner)
			secret, codes := e.enrolled(t, user)
			e.newMails(t)
			if err := tt.present(t, e, secret, codes[0]); !errors.Is(err, tt.want) {
				t.Fatalf("presenting a recovery code = %v, want %v", err, tt.want)
			}
			if got := e.codesLeft(t, user.UserID); got != 10 {
				t.Errorf("recovery codes left = %d, want 10 (none spent)", got)
			}
			if got := e.count(auth.EventRecoveryCodeUsed); got != 0 {
				t.Errorf("recovery_code_used events = %d, want 0", got)
			}
			e.wantMails(t, "a refused recovery code")
		})
	}
}

// proofFailing is a store whose step-up writes fail with err.
type proofFailing struct {
	*sqlite.Store
	err error
}

func (p proofFailing) SetSessionProof(context.Context, string, time.Time, auth.Method) error {
	return p.err
}

// TestRecoveryCodeWhenTheStepUpFails: a step-up whose write failed and
// wrote nothing gives the code back; one whose outcome the store cannot
// tell keeps it spent, and its owner hears of it as of any use.
func TestRecoveryCodeWhenTheStepUpFails(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		wantLeft  int
		wantUsed  int
		wantMails []notice
	}{
		{name: "Failed", err: errors.New("disk I/O error"), wantLeft: 10},
		{name: "OutcomeUnknown", err: fmt.Errorf("postgres: commit: %w: connection reset", auth.ErrOutcomeUnknown),
			wantLeft: 9, wantUsed: 1, wantMails: []notice{{auth.KindRecoveryCodeUsed, "ada@example.com"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(st *sqlite.Store) auth.Store { return proofFailing{st, tt.err} })
			user := e.user(t, "ada@example.com")
			_, codes := e.enrolled(t, user)
			e.newMails(t)
			err := e.mfa.Reauthenticate(t.Context(), user, mfa.Proof{Method: auth.MethodRecoveryCode, Code: codes[0]}, "", client)
			if err == nil {
				t.Fatal("Reauthenticate with a failing store = nil, want an error")
			}
			if got := e.codesLeft(t, user.UserID); got != tt.wantLeft {
				t.Errorf("recovery codes left = %d, want %d", got, tt.wantLeft)
			}
			if got := e.count(auth.EventRecoveryCodeUsed); got != tt.wantUsed {
				t.Errorf("recovery_code_used events = %d, want %d", got, tt.wantUsed)
			}
			e.wantMails(t, "a failed step-up", tt.wantMails...)
		})
	}
}
