// Package csrf makes and checks CSRF tokens in the format of the Ruby gem
// jwt_sessions: a session has a 32-byte secret, and each response carries
// it masked with a fresh one-time pad, base64(pad ‖ pad XOR secret). Masking
// anew each time keeps the secret out of reach of compression side channels
// such as BREACH, which need a value repeated across responses.
package csrf

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
)

// SecretSize is the length of a CSRF secret in bytes.
const SecretSize = 32

// Token lengths in base64 characters.
const (
	maskedLen   = 88 // 2 × SecretSize bytes
	unmaskedLen = 44 // SecretSize bytes
)

// ErrInvalid is returned by Unmask for anything but a masked or unmasked
// token.
var ErrInvalid = errors.New("csrf: invalid token")

// NewSecret returns SecretSize random bytes.
func NewSecret() []byte {
	b := make([]byte, SecretSize)
	// crypto/rand.Read never fails since Go 1.24: it crashes the program
	// rather than return predictable bytes.
	rand.Read(b)
	return b
}

// Mask returns secret masked with a fresh pad: base64.StdEncoding of
// pad ‖ pad XOR secret, 88 characters. It panics if secret is not
// SecretSize bytes, a programming error.
func Mask(secret []byte) string {
	if len(secret) != SecretSize {
		panic("csrf: Mask: secret is not SecretSize bytes")
	}
	var raw [2 * SecretSize]byte
	pad, masked := raw[:SecretSize], raw[SecretSize:]
	rand.Read(pad)
	subtle.XORBytes(masked, pad, secret)
	var out [maskedLen]byte
	base64.StdEncoding.Encode(out[:], raw[:])
	return string(out[:])
}

// Valid reports whether token is secret, masked (88 characters) or
// unmasked (44 characters, as the gem also accepts). The comparison with
// secret takes constant time; any other input, including a secret of the
// wrong size, is simply not valid.
func Valid(token string, secret []byte) bool {
	var got [SecretSize]byte
	if len(secret) != SecretSize || !unmask(got[:], token) {
		return false
	}
	return subtle.ConstantTimeCompare(got[:], secret) == 1
}

// Unmask returns the secret in a masked or unmasked token, or ErrInvalid.
func Unmask(token string) ([]byte, error) {
	secret := make([]byte, SecretSize)
	if !unmask(secret, token) {
		return nil, ErrInvalid
	}
	return secret, nil
}

// unmask writes the secret in token to dst, reporting whether token was
// either form. It works in fixed-size arrays: tokens come from request
// headers and are checked on every state-changing request.
func unmask(dst []byte, token string) bool {
	var src [maskedLen]byte
	var raw [2*SecretSize + 2]byte // room for DecodedLen(88)
	switch len(token) {
	case maskedLen:
		n := copy(src[:], token)
		if !decode(raw[:], src[:n], 2*SecretSize) {
			return false
		}
		subtle.XORBytes(dst, raw[:SecretSize], raw[SecretSize:2*SecretSize])
	case unmaskedLen:
		n := copy(src[:], token)
		if !decode(raw[:], src[:n], SecretSize) {
			return false
		}
		copy(dst, raw[:SecretSize])
	default:
		return false
	}
	return true
}

// decode decodes canonical standard base64 (padded, spare bits zero, so a
// secret has one spelling) and reports whether src held exactly want bytes.
// Line breaks, which the decoder skips, leave too few bytes.
func decode(dst, src []byte, want int) bool {
	n, err := base64.StdEncoding.Strict().Decode(dst, src)
	return err == nil && n == want
}
