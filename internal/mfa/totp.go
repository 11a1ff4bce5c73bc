package mfa

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"image/png"
	"strconv"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// TOTP parameters: those every authenticator app supports (RFC 6238's
// defaults, Google Authenticator's only ones).
const (
	period     = 30 // seconds
	digits     = otp.DigitsSix
	secretSize = 20 // bytes: 160 bits, RFC 4226's recommendation
	// skew is how many steps either side of now a code may come from: a
	// phone a little off, a code typed as it turned over.
	skew = 1
)

var codeOpts = totp.ValidateOpts{Period: period, Digits: digits, Algorithm: otp.AlgorithmSHA1}

// Enrollment is a new TOTP secret, waiting for its first code.
type Enrollment struct {
	Secret string // base32, for typing into an app
	URI    string // otpauth://totp/…, what the QR code holds
	QRCode []byte // PNG
}

// EnrolTOTP makes a new TOTP secret for p's user, replacing one not yet
// confirmed. Adding a factor is a dangerous change: it needs a recent
// proof of the user (auth.RequireRecentAuth).
func (s *Service) EnrolTOTP(ctx context.Context, p *auth.Principal) (*Enrollment, error) {
	if err := s.auth.RequireRecentAuth(ctx, p); err != nil {
		return nil, err
	}
	u, err := s.auth.Me(ctx, p)
	if err != nil {
		return nil, err
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: s.issuer, AccountName: u.Email, Period: period, SecretSize: secretSize,
		Digits: digits, Algorithm: otp.AlgorithmSHA1, Rand: rand.Reader,
	})
	if err != nil {
		return nil, auth.Unavailable(err)
	}
	img, err := key.Image(256, 256)
	if err != nil {
		return nil, auth.Unavailable(err)
	}
	var qr bytes.Buffer
	if err := png.Encode(&qr, img); err != nil {
		return nil, auth.Unavailable(err)
	}
	sealed := s.box.Seal([]byte(key.Secret()), aad(p.UserID))
	err = s.store.PutTOTP(ctx, p.UserID, sealed, s.now())
	if errors.Is(err, auth.ErrConflict) {
		return nil, ErrTOTPEnabled
	} else if err != nil {
		return nil, auth.Unavailable(err)
	}
	return &Enrollment{Secret: key.Secret(), URI: key.URL(), QRCode: qr.Bytes()}, nil
}

// ConfirmTOTP turns on the secret EnrolTOTP made, with its first code,
// and returns the user's new recovery codes (any older ones are void).
// The code is checked under the budgets of a second factor.
func (s *Service) ConfirmTOTP(ctx context.Context, p *auth.Principal, code string, c auth.Client) ([]string, error) {
	err := s.auth.VerifyFactor(ctx, p, auth.MethodTOTP, c, func(ctx context.Context) error {
		return s.checkTOTP(ctx, p.UserID, code, true)
	})
	if err != nil {
		return nil, err
	}
	codes, err := s.newRecoveryCodes(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	s.auth.FactorChanged(ctx, p.UserID, auth.EventFactorAdded, auth.MethodTOTP, c)
	return codes, nil
}

// DisableTOTP removes p's user's TOTP secret. A confirmed one is a
// factor: removing it is a dangerous change, so it needs a recent proof,
// with a second factor (auth.RequireRecentAuth), and recovery codes go
// with the last factor they could recover. One not yet confirmed is only
// an enrolment: cancelling it needs no step-up, and changes no factor to
// audit or tell the owner about.
func (s *Service) DisableTOTP(ctx context.Context, p *auth.Principal, c auth.Client) error {
	if p.Pending {
		return auth.ErrMFARequired
	}
	// Only if still unconfirmed: should a confirmation win the race, what
	// it leaves is a factor, for the step-up below.
	err := s.store.DeleteUnconfirmedTOTP(ctx, p.UserID)
	if err == nil {
		return nil
	} else if !errors.Is(err, auth.ErrNotFound) {
		return auth.Unavailable(err)
	}
	if err := s.auth.RequireRecentAuth(ctx, p); err != nil {
		return err
	}
	if ok, err := s.totpEnrolled(ctx, p.UserID); err != nil {
		return auth.Unavailable(err)
	} else if !ok {
		return ErrNoTOTP
	}
	if err := s.store.DeleteTOTP(ctx, p.UserID); err != nil {
		return auth.Unavailable(err)
	}
	return s.auth.FactorRemoved(ctx, p.UserID, auth.MethodTOTP, c)
}

// checkTOTP accepts code for userID's secret (confirmed, or unconfirmed
// when confirming) once: the step it belongs to must be after the last
// accepted, which the store records atomically with the check's outcome.
func (s *Service) checkTOTP(ctx context.Context, userID int64, code string, confirming bool) error {
	t, err := s.store.TOTP(ctx, userID)
	if errors.Is(err, auth.ErrNotFound) {
		return auth.ErrFactorInvalid
	} else if err != nil {
		return auth.Unavailable(err)
	}
	if confirming != t.ConfirmedAt.IsZero() {
		return auth.ErrFactorInvalid
	}
	secret, err := s.box.Open(t.Sealed, aad(userID))
	if err != nil {
		return auth.Unavailable(err)
	}
	now := s.now()
	step, ok := matchStep(string(secret), code, now)
	if !ok || step <= t.LastStep {
		return auth.ErrFactorInvalid
	}
	err = s.store.UseTOTPStep(ctx, userID, t.Sealed, step, now, confirming)
	if errors.Is(err, auth.ErrConflict) {
		return auth.ErrFactorInvalid // a concurrent request used it first
	} else if err != nil {
		return auth.Unavailable(err)
	}
	return nil
}

// matchStep returns the time step within skew of now whose code is code.
func matchStep(secret, code string, now time.Time) (int64, bool) {
	if len(code) != digits.Length() {
		return 0, false
	}
	current := now.Unix() / period
	for step := current - skew; step <= current+skew; step++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*period, 0), codeOpts)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step, true
		}
	}
	return 0, false
}

// aad binds a sealed secret to its user: a secret copied to another row
// opens nowhere.
func aad(userID int64) []byte {
	return []byte("gatehouse totp v1\x00" + strconv.FormatInt(userID, 10))
}

func derive(key []byte, purpose string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}
