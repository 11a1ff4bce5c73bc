package mfa

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// A user has ten recovery codes at a time, each 60 random bits written
// as three groups of four base32 characters (abcd-efgh-ijkl). That is
// far beyond guessing under the budgets, so a fast keyed hash stores them
// (HMAC-SHA256 under a key derived from the root secret): a database
// reader learns nothing, and no slow hash is needed.
const (
	codeCount = 10
	codeBytes = 8 // 64 bits drawn, 60 used: 12 base32 characters
	codeChars = 12
)

var codeEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// RegenerateRecoveryCodes replaces p's user's recovery codes with ten new
// ones, shown once. A dangerous change (step-up), and only for a user
// with another second factor.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, p *auth.Principal, c auth.Client) ([]string, error) {
	if err := s.auth.RequireRecentAuth(ctx, p); err != nil {
		return nil, err
	}
	if ok, err := s.hasPrimaryFactor(ctx, p.UserID); err != nil {
		return nil, err
	} else if !ok {
		return nil, ErrNeedFactor
	}
	codes, err := s.newRecoveryCodes(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	s.auth.FactorChanged(ctx, p.UserID, auth.EventFactorAdded, auth.MethodRecoveryCode, c)
	return codes, nil
}

// newRecoveryCodes stores ten new codes for userID, voiding the old.
func (s *Service) newRecoveryCodes(ctx context.Context, userID int64) ([]string, error) {
	codes := make([]string, codeCount)
	hashes := make([][]byte, codeCount)
	for i := range codes {
		var b [codeBytes]byte
		rand.Read(b[:])
		raw := strings.ToLower(codeEncoding.EncodeToString(b[:]))[:codeChars]
		codes[i] = raw[0:4] + "-" + raw[4:8] + "-" + raw[8:12]
		hashes[i] = s.codeHash(userID, raw)
	}
	if err := s.store.ReplaceRecoveryCodes(ctx, userID, hashes, s.now()); err != nil {
		return nil, auth.Unavailable(err)
	}
	return codes, nil
}

// useRecoveryCode consumes code of userID, atomically, so of two
// requests with one code exactly one succeeds, and returns its hash (for
// giving it back).
func (s *Service) useRecoveryCode(ctx context.Context, userID int64, code string) ([]byte, error) {
	raw := normalizeCode(code)
	if len(raw) != codeChars {
		return nil, auth.ErrFactorInvalid
	}
	hash := s.codeHash(userID, raw)
	err := s.store.UseRecoveryCode(ctx, userID, hash, s.now())
	if errors.Is(err, auth.ErrNotFound) {
		return nil, auth.ErrFactorInvalid
	} else if err != nil {
		return nil, auth.Unavailable(err)
	}
	return hash, nil
}

// normalizeCode forgives what people do when typing a code: case,
// spaces, dashes.
func normalizeCode(code string) string {
	if len(code) > 64 {
		return ""
	}
	return strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' {
			return -1
		}
		return r
	}, strings.ToLower(code))
}

// codeHash binds a code to its user, so equal codes of two users differ.
func (s *Service) codeHash(userID int64, raw string) []byte {
	m := hmac.New(sha256.New, s.recovery)
	m.Write([]byte(strconv.FormatInt(userID, 10) + "\x00" + raw))
	return m.Sum(nil)
}

// hasPrimaryFactor reports whether userID has a second factor other than
// recovery codes (TOTP here, or a passkey from another package).
func (s *Service) hasPrimaryFactor(ctx context.Context, userID int64) (bool, error) {
	kinds, err := s.auth.SecondFactors(ctx, userID)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(kinds, func(m auth.Method) bool { return m != auth.MethodRecoveryCode }), nil
}
