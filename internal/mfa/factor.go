package mfa

import (
	"context"
	"errors"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// factor is one kind of factor as auth sees it (auth.SecondFactor).
type factor struct {
	kind     auth.Method
	enrolled func(ctx context.Context, userID int64) (bool, error)
	reset    func(ctx context.Context, userID int64) error
}

func (f factor) Kind() auth.Method { return f.kind }

func (f factor) Enrolled(ctx context.Context, userID int64) (bool, error) {
	return f.enrolled(ctx, userID)
}

func (f factor) Reset(ctx context.Context, userID int64) error { return f.reset(ctx, userID) }

// TOTPFactor is TOTP as auth sees it: enrolled once confirmed.
func (s *Service) TOTPFactor() auth.SecondFactor { return s.totp }

// RecoveryFactor is recovery codes as auth sees them: enrolled while any
// is unused.
func (s *Service) RecoveryFactor() auth.SecondFactor { return s.recovered }

func (s *Service) totpEnrolled(ctx context.Context, userID int64) (bool, error) {
	t, err := s.store.TOTP(ctx, userID)
	if errors.Is(err, auth.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return !t.ConfirmedAt.IsZero(), nil
}

func (s *Service) codesLeft(ctx context.Context, userID int64) (bool, error) {
	n, err := s.store.RecoveryCodesLeft(ctx, userID)
	return n > 0, err
}
