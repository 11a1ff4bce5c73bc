package mfa

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// Proof is a second factor presented by a client: a TOTP code or a
// recovery code.
type Proof struct {
	Method auth.Method
	Code   string
}

// prove checks proof for p's user under the budgets of a second factor,
// then records what it proved (record: the finish of a sign-in, or a
// step-up). A recovery code is used up by its check, before record can
// tell whether the session still takes it: a double submit with two
// codes, whose loser finds the sign-in finished, or a sign-in finished on
// another node while this one's cache still says pending. So a code is
// given back when nothing was recorded for it, and only a code that
// bought something is audited and told to its owner; of two finishes
// racing with two codes, one wins and only its code stays spent.
//
// A failed record wrote nothing, unless the store cannot tell
// (auth.ErrOutcomeUnknown: a PostgreSQL commit whose answer was lost).
// Then the finish may have happened, and the code stays spent, audited and
// told like any use: a lost code over a reusable one, and never one used
// without its owner hearing of it. Spending the code in the transaction of
// the finish would leave no such case, but the two live in different
// packages' stores.
func (s *Service) prove(ctx context.Context, p *auth.Principal, proof Proof, c auth.Client, record func(context.Context) error) error {
	var spent []byte // the hash of the recovery code the check used up
	var verify func(context.Context) error
	switch proof.Method {
	case auth.MethodTOTP:
		verify = func(ctx context.Context) error { return s.checkTOTP(ctx, p.UserID, proof.Code, false) }
	case auth.MethodRecoveryCode:
		verify = func(ctx context.Context) (err error) {
			spent, err = s.useRecoveryCode(ctx, p.UserID, proof.Code)
			return err
		}
	default:
		return ErrMethod
	}
	err := s.auth.VerifyFactor(ctx, p, proof.Method, c, verify)
	if err == nil && ctx.Err() != nil {
		err = auth.Unavailable(ctx.Err()) // the client left: nobody to receive what record would make
	}
	if err != nil {
		return s.giveBack(ctx, p.UserID, spent, err)
	}
	err = record(ctx)
	if err != nil && !errors.Is(err, auth.ErrOutcomeUnknown) {
		return s.giveBack(ctx, p.UserID, spent, err)
	}
	if spent != nil {
		s.auth.FactorChanged(ctx, p.UserID, auth.EventRecoveryCodeUsed, auth.MethodRecoveryCode, c)
	}
	return err
}

// giveBack makes the recovery code hash of userID, if any, usable again
// after err, which recorded nothing, and returns err. It runs even if the
// request was cancelled: the code is the user's. If it fails the code is
// lost; that is an internal error, for the logs.
func (s *Service) giveBack(ctx context.Context, userID int64, hash []byte, err error) error {
	if hash == nil {
		return err
	}
	restore := func(ctx context.Context) error { return s.store.RestoreRecoveryCode(ctx, userID, hash) }
	if rerr := auth.Commit(context.WithoutCancel(ctx), restore); rerr != nil {
		return auth.Unavailable(fmt.Errorf("mfa: recovery code of user %d not given back after %v: %w", userID, err, rerr))
	}
	return err
}

// Verify finishes p's pending sign-in with a TOTP code or a recovery code:
// the session becomes a normal one, with new tokens.
func (s *Service) Verify(ctx context.Context, p *auth.Principal, proof Proof, c auth.Client) (*auth.Grant, error) {
	if !p.Pending {
		return nil, auth.ErrNotPending
	}
	var g *auth.Grant
	err := s.prove(ctx, p, proof, c, func(ctx context.Context) (err error) {
		g, err = s.auth.FinishSecondFactor(ctx, p, proof.Method, c)
		return err
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// Reauthenticate is the step-up of a signed-in session: a TOTP code or a
// recovery code records a fresh proof (auth.Reauthenticated); a password
// is auth's to check (auth.ReauthenticateWithPassword), and is refused to
// a user with a second factor.
func (s *Service) Reauthenticate(ctx context.Context, p *auth.Principal, proof Proof, password string, c auth.Client) error {
	if proof.Method == auth.MethodPassword {
		return s.auth.ReauthenticateWithPassword(ctx, p, password, c)
	}
	if p.Pending {
		return auth.ErrMFARequired // what Reauthenticated answers, before a code is checked for it
	}
	return s.prove(ctx, p, proof, c, func(ctx context.Context) error { return s.auth.Reauthenticated(ctx, p, proof.Method) })
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
