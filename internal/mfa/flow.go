package mfa

import (
	"context"
	"errors"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// Proof is a second factor presented by a client: a TOTP code or a
// recovery code.
type Proof struct {
	Method auth.Method
	Code   string
}

// check verifies proof for p's user under the budgets of a second factor.
// A recovery code is used up by its check; its use is audited and the
// owner told.
func (s *Service) check(ctx context.Context, p *auth.Principal, proof Proof, c auth.Client) error {
	var verify func(context.Context) error
	switch proof.Method {
	case auth.MethodTOTP:
		verify = func(ctx context.Context) error { return s.checkTOTP(ctx, p.UserID, proof.Code, false) }
	case auth.MethodRecoveryCode:
		verify = func(ctx context.Context) error { return s.useRecoveryCode(ctx, p.UserID, proof.Code) }
	default:
		return ErrMethod
	}
	if err := s.auth.VerifyFactor(ctx, p, proof.Method, c, verify); err != nil {
		return err
	}
	if proof.Method == auth.MethodRecoveryCode {
		s.auth.FactorChanged(ctx, p.UserID, auth.EventRecoveryCodeUsed, auth.MethodRecoveryCode, c)
	}
	return nil
}

// Verify finishes p's pending sign-in with a TOTP code or a recovery code:
// the session becomes a normal one, with new tokens.
func (s *Service) Verify(ctx context.Context, p *auth.Principal, proof Proof, c auth.Client) (*auth.Grant, error) {
	if !p.Pending {
		return nil, auth.ErrNotPending
	}
	if err := s.check(ctx, p, proof, c); err != nil {
		return nil, err
	}
	return s.auth.FinishSecondFactor(ctx, p, proof.Method, c)
}

// Reauthenticate is the step-up of a signed-in session: a TOTP code or a
// recovery code records a fresh proof (auth.Reauthenticated); a password
// is auth's to check (auth.ReauthenticateWithPassword), and is refused to
// a user with a second factor.
func (s *Service) Reauthenticate(ctx context.Context, p *auth.Principal, proof Proof, password string, c auth.Client) error {
	if proof.Method == auth.MethodPassword {
		return s.auth.ReauthenticateWithPassword(ctx, p, password, c)
	}
	if err := s.check(ctx, p, proof, c); err != nil {
		return err
	}
	return s.auth.Reauthenticated(ctx, p, proof.Method)
}

// Status is what second factors a user has.
type Status struct {
	// Factors are the kinds enrolled, of every package (passkeys too).
	Factors []auth.Method
	// TOTPPending: a secret was enrolled and waits for its first code.
	TOTPPending       bool
	RecoveryCodesLeft int
}

// Status tells p's user what second factors they have.
func (s *Service) Status(ctx context.Context, p *auth.Principal) (*Status, error) {
	kinds, err := s.auth.SecondFactors(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	st := &Status{Factors: kinds}
	if t, err := s.store.TOTP(ctx, p.UserID); err == nil {
		st.TOTPPending = t.ConfirmedAt.IsZero()
	} else if !errors.Is(err, auth.ErrNotFound) {
		return nil, auth.Unavailable(err)
	}
	if st.RecoveryCodesLeft, err = s.store.RecoveryCodesLeft(ctx, p.UserID); err != nil {
		return nil, auth.Unavailable(err)
	}
	return st, nil
}
