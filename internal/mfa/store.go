package mfa

import (
	"context"
	"time"
)

// Store keeps second factors. The sqlite and postgres stores implement it
// and pass authtest.RunMFAStoreTests. Each change is one atomic
// statement (or transaction): a code is used once however many requests
// race for it.
type Store interface {
	// PutTOTP stores a new, unconfirmed TOTP secret of userID (sealed),
	// replacing an unconfirmed one. auth.ErrConflict if a confirmed one
	// exists; auth.ErrNotFound if the user does not.
	PutTOTP(ctx context.Context, userID int64, sealed []byte, at time.Time) error
	// TOTP returns userID's secret, confirmed or not; auth.ErrNotFound if
	// none.
	TOTP(ctx context.Context, userID int64) (*TOTP, error)
	// UseTOTPStep records that the code of time step step was accepted for
	// the secret sealed: only if that secret is still userID's, confirmed
	// (confirm false) or unconfirmed (confirm true, which confirms it at
	// at), and step is after the last step used. Otherwise
	// auth.ErrConflict: the code was used already, or the secret changed.
	UseTOTPStep(ctx context.Context, userID int64, sealed []byte, step int64, at time.Time, confirm bool) error
	// DeleteTOTP removes userID's secret; nothing to remove is not an
	// error.
	DeleteTOTP(ctx context.Context, userID int64) error
	// DeleteUnconfirmedTOTP removes userID's secret only if it is not
	// confirmed; auth.ErrNotFound if there is no unconfirmed one.
	DeleteUnconfirmedTOTP(ctx context.Context, userID int64) error

	// ReplaceRecoveryCodes makes hashes userID's only recovery codes.
	ReplaceRecoveryCodes(ctx context.Context, userID int64, hashes [][]byte, at time.Time) error
	// UseRecoveryCode marks the unused code hash of userID used at at;
	// auth.ErrNotFound if there is no such unused code.
	UseRecoveryCode(ctx context.Context, userID int64, hash []byte, at time.Time) error
	// RestoreRecoveryCode marks the used code hash of userID unused again:
	// what it was spent on was refused. A code no longer there (replaced
	// meanwhile) is not an error.
	RestoreRecoveryCode(ctx context.Context, userID int64, hash []byte) error
	// RecoveryCodesLeft counts userID's unused codes.
	RecoveryCodesLeft(ctx context.Context, userID int64) (int, error)
	// DeleteRecoveryCodes removes all of userID's codes; none is not an
	// error.
	DeleteRecoveryCodes(ctx context.Context, userID int64) error
}

// TOTP is a user's TOTP secret as stored.
type TOTP struct {
	UserID int64
	// Sealed is the secret sealed (package seal) under the root secret,
	// bound to the user: a database reader cannot compute codes.
	Sealed      []byte
	CreatedAt   time.Time
	ConfirmedAt time.Time // zero until the first code is accepted
	// LastStep is the time step (Unix time / 30 s) of the last accepted
	// code: a code is accepted once, and never one of an earlier step.
	LastStep int64
}
