package mfa_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/mfa"
)

func TestSignInWithTOTP(t *testing.T) {
	e := newEnv(t)
	p := e.user(t, "ada@example.com")
	secret, _ := e.enrolled(t, p)

	g, pending := e.pending(t, "ada@example.com")
	if !slices.Equal(g.SecondFactors, []auth.Method{auth.MethodTOTP, auth.MethodRecoveryCode}) {
		t.Errorf("pending grant's SecondFactors = %q, want [totp recovery_code]", g.SecondFactors)
	}
	if _, err := e.auth.Refresh(t.Context(), auth.RefreshRequest{RefreshToken: g.RefreshToken, Client: client}); !errors.Is(err, auth.ErrMFARequired) {
		t.Errorf("Refresh of a pending session = %v, want ErrMFARequired", err)
	}
	full, err := e.mfa.Verify(t.Context(), pending, mfa.Proof{Method: auth.MethodTOTP, Code: code(t, secret, e.clock.Now())}, client)
	if err != nil {
		t.Fatalf("Verify(totp) = %v", err)
	}
	got := e.principal(t, full)
	if got.Pending || !slices.Equal(got.Methods, []auth.Method{auth.MethodPassword, auth.MethodTOTP}) || got.AAL() != 2 {
		t.Errorf("finished session: Pending %v, Methods %q, AAL %d, want false, [password totp], 2", got.Pending, got.Methods, got.AAL())
	}
	if full.AccessToken == g.AccessToken || string(full.CSRFSecret) == string(g.CSRFSecret) {
		t.Errorf("finishing kept the pending session's access token or CSRF secret; want both rotated")
	}
}

// TestTOTPReplay: a code is accepted once, even within its 30 s, and a
// code of an earlier step after a later one never.
func TestTOTPReplay(t *testing.T) {
	e := newEnv(t)
	secret, _ := e.enrolled(t, e.user(t, "ada@example.com"))
	c := code(t, secret, e.clock.Now())
	_, first := e.pending(t, "ada@example.com")
	if _, err := e.mfa.Verify(t.Context(), first, mfa.Proof{Method: auth.MethodTOTP, Code: c}, client); err != nil {
		t.Fatalf("Verify(code) = %v", err)
	}
	_, second := e.pending(t, "ada@example.com")
	if _, err := e.mfa.Verify(t.Context(), second, mfa.Proof{Method: auth.MethodTOTP, Code: c}, client); !errors.Is(err, auth.ErrFactorInvalid) {
		t.Errorf("Verify(same code again) = %v, want ErrFactorInvalid", err)
	}
	earlier := code(t, secret, e.clock.Now().Add(-30*time.Second))
	if _, err := e.mfa.Verify(t.Context(), second, mfa.Proof{Method: auth.MethodTOTP, Code: earlier}, client); !errors.Is(err, auth.ErrFactorInvalid) {
		t.Errorf("Verify(the previous step's code after this step's) = %v, want ErrFactorInvalid", err)
	}
}

// TestTOTPSkew: one step either side of now is accepted, two are not.
func TestTOTPSkew(t *testing.T) {
	tests := []struct {
		name  string
		steps int
		ok    bool
	}{
		{name: "TwoBehind", steps: -2, ok: false},
		{name: "OneBehind", steps: -1, ok: true},
		{name: "Now", steps: 0, ok: true},
		{name: "OneAhead", steps: 1, ok: true},
		{name: "TwoAhead", steps: 2, ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			secret, _ := e.enrolled(t, e.user(t, "ada@example.com"))
			e.clock.Advance(5 * time.Minute) // clear of the confirming step
			_, p := e.pending(t, "ada@example.com")
			c := code(t, secret, e.clock.Now().Add(time.Duration(tt.steps)*30*time.Second))
			_, err := e.mfa.Verify(t.Context(), p, mfa.Proof{Method: auth.MethodTOTP, Code: c}, client)
			if tt.ok && err != nil || !tt.ok && !errors.Is(err, auth.ErrFactorInvalid) {
				t.Errorf("Verify(code %+d steps from now) = %v, want ok %v", tt.steps, err, tt.ok)
			}
		})
	}
}

// TestVerifyBudget: a pending sign-in gets FactorPerSession guesses,
// however many arrive at once; the rest are 429 before any check.
func TestVerifyBudget(t *testing.T) {
	e := newEnv(t)
	e.enrolled(t, e.user(t, "ada@example.com"))
	_, p := e.pending(t, "ada@example.com")
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = e.mfa.Verify(context.Background(), p, mfa.Proof{Method: auth.MethodTOTP, Code: "000000"}, client)
		})
	}
	wg.Wait()
	var invalid, limited int
	for _, err := range errs {
		switch {
		case errors.Is(err, auth.ErrFactorInvalid):
			invalid++
		case auth.ErrorCode(err) == auth.CodeRateLimited:
			limited++
		default:
			t.Errorf("Verify(wrong code) = %v, want ErrFactorInvalid or rate_limited", err)
		}
	}
	if want := auth.DefaultLimits().FactorPerSession; invalid > want || invalid+limited != n {
		t.Errorf("%d concurrent wrong codes: %d checked, %d refused; want at most %d checked, the rest refused", n, invalid, limited, want)
	}
	if got := e.count(auth.EventSecondFactorFailed); got != invalid {
		t.Errorf("second_factor_failed events = %d, want one per checked code (%d)", got, invalid)
	}
}

// TestStepUp: disabling TOTP needs a recent proof with a second factor;
// a password does not do for a user who has one.
func TestStepUp(t *testing.T) {
	e := newEnv(t)
	secret, _ := e.enrolled(t, e.user(t, "ada@example.com"))
	_, pending := e.pending(t, "ada@example.com")
	g, err := e.mfa.Verify(t.Context(), pending, mfa.Proof{Method: auth.MethodTOTP, Code: code(t, secret, e.clock.Now())}, client)
	if err != nil {
		t.Fatalf("Verify = %v", err)
	}
	p := e.principal(t, g)
	e.clock.Advance(11 * time.Minute)
	if err := e.mfa.DisableTOTP(t.Context(), p, client); !errors.Is(err, auth.ErrReauthenticationRequired) {
		t.Fatalf("DisableTOTP 11 min after sign-in = %v, want ErrReauthenticationRequired", err)
	}
	if err := e.mfa.Reauthenticate(t.Context(), p, mfa.Proof{Method: auth.MethodPassword}, testPassword, client); !errors.Is(err, auth.ErrSecondFactorNeeded) {
		t.Errorf("Reauthenticate(password) with TOTP enabled = %v, want ErrSecondFactorNeeded", err)
	}
	if err := e.mfa.Reauthenticate(t.Context(), p, mfa.Proof{Method: auth.MethodTOTP, Code: code(t, secret, e.clock.Now())}, "", client); err != nil {
		t.Fatalf("Reauthenticate(totp) = %v", err)
	}
	if err := e.mfa.DisableTOTP(t.Context(), p, client); err != nil {
		t.Fatalf("DisableTOTP after a step-up = %v", err)
	}
	st, err := e.mfa.Status(t.Context(), p)
	if err != nil || len(st.Factors) != 0 || st.RecoveryCodesLeft != 0 {
		t.Errorf("Status after disabling the only factor = %+v, %v, want no factors and no recovery codes", st, err)
	}
	if e.count(auth.EventFactorAdded) != 1 || e.count(auth.EventFactorRemoved) != 1 {
		t.Errorf("factor_added, factor_removed events = %d, %d, want 1, 1", e.count(auth.EventFactorAdded), e.count(auth.EventFactorRemoved))
	}
	// Signing in is the seed's again: no pending step.
	if g, err := e.auth.SignIn(t.Context(), auth.Credentials{Email: "ada@example.com", Password: testPassword, Client: client}); err != nil || e.principal(t, g).Pending {
		t.Errorf("SignIn after disabling TOTP = %v, pending %v; want a complete session", err, err == nil && e.principal(t, g).Pending)
	}
}

// TestSecretSealed: the database holds no usable secret.
func TestSecretSealed(t *testing.T) {
	e := newEnv(t)
	p := e.user(t, "ada@example.com")
	en, err := e.mfa.EnrolTOTP(t.Context(), p)
	if err != nil {
		t.Fatalf("EnrolTOTP = %v", err)
	}
	row, err := e.store.TOTP(t.Context(), p.UserID)
	if err != nil {
		t.Fatalf("TOTP = %v", err)
	}
	if strings.Contains(string(row.Sealed), en.Secret) {
		t.Errorf("stored TOTP row holds the secret %q in clear", en.Secret)
	}
	if !strings.HasPrefix(en.URI, "otpauth://totp/Gatehouse:ada@example.com?") || len(en.QRCode) < 8 || string(en.QRCode[1:4]) != "PNG" {
		t.Errorf("enrolment: URI %q, QR code %d bytes; want an otpauth URI and a PNG", en.URI, len(en.QRCode))
	}
}

// TestOwnerNotices: turning TOTP on, spending a recovery code and turning
// TOTP off each queue the owner the notice of that change, to the owner's
// address alone; the steps in between (enrolling, a TOTP code) queue
// nothing.
func TestOwnerNotices(t *testing.T) {
	const owner = "ada@example.com"
	e := newEnv(t)
	e.user(t, "grace@example.com") // a bystander, who must get none of them
	p := e.user(t, owner)
	e.wantMails(t, "Register", notice{auth.KindConfirmEmail, "grace@example.com"}, notice{auth.KindConfirmEmail, owner})

	en, err := e.mfa.EnrolTOTP(t.Context(), p)
	if err != nil {
		t.Fatalf("EnrolTOTP = %v", err)
	}
	e.wantMails(t, "EnrolTOTP")
	codes, err := e.mfa.ConfirmTOTP(t.Context(), p, code(t, en.Secret, e.clock.Now()), client)
	if err != nil {
		t.Fatalf("ConfirmTOTP = %v", err)
	}
	e.wantMails(t, "ConfirmTOTP", notice{auth.KindFactorAdded, owner})
	e.clock.Advance(30 * time.Second)

	_, pending := e.pending(t, owner)
	if _, err := e.mfa.Verify(t.Context(), pending, mfa.Proof{Method: auth.MethodRecoveryCode, Code: codes[0]}, client); err != nil {
		t.Fatalf("Verify(recovery code) = %v", err)
	}
	e.wantMails(t, "Verify(recovery code)", notice{auth.KindRecoveryCodeUsed, owner})

	_, pending = e.pending(t, owner)
	g, err := e.mfa.Verify(t.Context(), pending, mfa.Proof{Method: auth.MethodTOTP, Code: code(t, en.Secret, e.clock.Now())}, client)
	if err != nil {
		t.Fatalf("Verify(totp) = %v", err)
	}
	e.wantMails(t, "Verify(totp)")

	if err := e.mfa.DisableTOTP(t.Context(), e.principal(t, g), client); err != nil {
		t.Fatalf("DisableTOTP = %v", err)
	}
	e.wantMails(t, "DisableTOTP", notice{auth.KindFactorRemoved, owner})
}

// TestDisableTOTP: DisableTOTP of an enrolment not yet confirmed cancels
// it, with no step-up and nothing to audit or mail; of a confirmed secret
// it needs the step-up.
func TestDisableTOTP(t *testing.T) {
	const owner = "ada@example.com"
	tests := []struct {
		name string
		// setUp gives owner's signed-in p its TOTP state.
		setUp func(t *testing.T, e *env, p *auth.Principal)
		want  error
	}{
		{
			name: "Unconfirmed",
			setUp: func(t *testing.T, e *env, p *auth.Principal) {
				if _, err := e.mfa.EnrolTOTP(t.Context(), p); err != nil {
					t.Fatalf("EnrolTOTP = %v", err)
				}
			},
		},
		{
			name:  "Confirmed",
			setUp: func(t *testing.T, e *env, p *auth.Principal) { e.enrolled(t, p) },
			want:  auth.ErrReauthenticationRequired,
		},
		{
			name:  "None",
			setUp: func(*testing.T, *env, *auth.Principal) {},
			want:  auth.ErrReauthenticationRequired, // the step-up comes first, as for a confirmed secret
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			p := e.user(t, owner)
			tt.setUp(t, e, p)
			e.newMails(t)
			e.clock.Advance(11 * time.Minute) // past the step-up age of the sign-in
			if err := e.mfa.DisableTOTP(t.Context(), p, client); !errors.Is(err, tt.want) {
				t.Fatalf("DisableTOTP 11 min after sign-in = %v, want %v", err, tt.want)
			}
			if st, err := e.mfa.Status(t.Context(), p); err != nil || st.TOTPPending {
				t.Errorf("Status after DisableTOTP = %+v, %v; want no TOTP pending", st, err)
			}
			if got := e.count(auth.EventFactorRemoved); got != 0 {
				t.Errorf("factor_removed events = %d, want 0", got)
			}
			e.wantMails(t, "DisableTOTP")
		})
	}
}

// TestCancelTOTPEnrolment: with an enrolment cancelled, TOTP is as if
// never enrolled: nothing to cancel again, and a new enrolment confirms.
func TestCancelTOTPEnrolment(t *testing.T) {
	e := newEnv(t)
	p := e.user(t, "ada@example.com")
	if _, err := e.mfa.EnrolTOTP(t.Context(), p); err != nil {
		t.Fatalf("EnrolTOTP = %v", err)
	}
	if err := e.mfa.DisableTOTP(t.Context(), p, client); err != nil {
		t.Fatalf("DisableTOTP(unconfirmed) = %v", err)
	}
	if err := e.mfa.DisableTOTP(t.Context(), p, client); !errors.Is(err, mfa.ErrNoTOTP) {
		t.Errorf("DisableTOTP after cancelling = %v, want ErrNoTOTP", err)
	}
	e.enrolled(t, p)
	e.pending(t, "ada@example.com") // fails unless the new secret is a factor
}
