// Package mfa is the second factors Gatehouse keeps itself: TOTP
// (RFC 6238) and one-time recovery codes. It owns their secrets and
// checks them; package auth owns the sessions and the budgets those
// checks run under (auth.Service.VerifyFactor), and learns whether a user
// has a factor through the auth.SecondFactor values this package gives
// (TOTPFactor, RecoveryFactor).
//
// Files: store.go (what a backend keeps), totp.go (enrol, confirm,
// disable, and the code check), recovery.go (codes), flow.go (finishing
// a sign-in, step-up, what a user has).
package mfa

import (
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/seal"
)

// Config is what a Service needs.
type Config struct {
	Auth  *auth.Service
	Store Store
	// Key is the root secret: it derives the key that seals TOTP secrets
	// and the one that hashes recovery codes.
	Key []byte
	// Issuer names the service in authenticator apps; default "Gatehouse".
	Issuer string
	// Now is the clock TOTP codes are computed on; default time.Now.
	// Codes come from the user's phone, so this is the node's own clock
	// (kept by NTP), not the database's.
	Now func() time.Time
}

// Service carries out the TOTP and recovery-code flows.
type Service struct {
	auth      *auth.Service
	store     Store
	box       *seal.Box
	recovery  []byte // HMAC key of recovery-code hashes
	issuer    string
	now       func() time.Time
	totp      factor
	recovered factor
}

// New checks cfg and builds a Service. Wiring then registers its factors
// with auth: AddSecondFactor(s.TOTPFactor()), AddSecondFactor(s.RecoveryFactor()).
func New(cfg Config) (*Service, error) {
	if cfg.Auth == nil || cfg.Store == nil {
		return nil, errors.New("mfa: auth service and store are required")
	}
	box, err := seal.New(cfg.Key, "gatehouse/totp-seal/v1")
	if err != nil {
		return nil, fmt.Errorf("mfa: %w", err)
	}
	if cfg.Issuer == "" {
		cfg.Issuer = "Gatehouse"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{
		auth:     cfg.Auth,
		store:    cfg.Store,
		box:      box,
		recovery: derive(cfg.Key, "gatehouse/recovery-code/v1"),
		issuer:   cfg.Issuer,
		now:      cfg.Now,
	}
	s.totp = factor{kind: auth.MethodTOTP, enrolled: s.totpEnrolled, reset: s.store.DeleteTOTP}
	s.recovered = factor{kind: auth.MethodRecoveryCode, enrolled: s.codesLeft, reset: s.store.DeleteRecoveryCodes}
	return s, nil
}

// Errors of the flows, beyond auth's.
var (
	// ErrTOTPEnabled refuses to enrol a second TOTP secret: disable the
	// first.
	ErrTOTPEnabled = &auth.Error{Code: auth.CodeValidationFailed, Message: "TOTP is already enabled",
		Details: map[string][]string{"totp": {"is already enabled"}}}
	// ErrNoTOTP: no TOTP to disable, nor an enrolment to cancel.
	ErrNoTOTP = &auth.Error{Code: auth.CodeNotFound, Message: "TOTP is not enabled"}
	// ErrNeedFactor refuses recovery codes to a user with no other second
	// factor: they recover access to a factor, and alone would be one.
	ErrNeedFactor = &auth.Error{Code: auth.CodeValidationFailed, Message: "Enable a second factor first",
		Details: map[string][]string{"recovery_codes": {"need a second factor"}}}
	// ErrMethod is a method this package cannot check.
	ErrMethod = &auth.Error{Code: auth.CodeValidationFailed, Message: "Method is not supported",
		Details: map[string][]string{"method": {"is not supported"}}}
)
