package password

import (
	"errors"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// bcrypt only ever reads the first 72 bytes of a password.
const bcryptMaxPassword = 72

// maxBcryptCost caps the cost read from a stored digest. Each step doubles
// the work: Rails and Devise default to 12 (about a quarter of a second), 16
// is about four seconds, and the format allows 31, which would pin a core for
// days on one corrupted row.
const maxBcryptCost = 16

// isBcrypt reports whether s claims to be a bcrypt digest. $2a$ is what
// Rails' bcrypt gem writes, $2b$ is OpenBSD's fixed variant and $2y$ is PHP's
// and Apache's name for the same algorithm. $2x$ (the buggy crypt_blowfish
// variant) is deliberately not accepted.
func isBcrypt(s string) bool {
	return strings.HasPrefix(s, "$2a$") || strings.HasPrefix(s, "$2b$") || strings.HasPrefix(s, "$2y$")
}

// checkBcrypt validates the whole digest ("$2b$" cost "$" 53 characters of
// bcrypt's base64), so a malformed digest is reported as such even when the
// password is too long to compare.
func checkBcrypt(s string) error {
	if len(s) != 60 || s[6] != '$' {
		return malformed("bcrypt digest is not 60 characters")
	}
	if s[4] < '0' || s[4] > '9' || s[5] < '0' || s[5] > '9' {
		return malformed("bcrypt cost is not two digits")
	}
	if cost := int(s[4]-'0')*10 + int(s[5]-'0'); cost < bcrypt.MinCost || cost > maxBcryptCost {
		return malformed("bcrypt cost out of range")
	}
	for i := 7; i < len(s); i++ {
		c := s[i]
		if !(c == '.' || c == '/' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return malformed("bcrypt salt or hash is not bcrypt base64")
		}
	}
	return nil
}

// verifyBcrypt compares password with a bcrypt digest.
//
// A password longer than 72 bytes never matches: bcrypt would ignore
// everything after byte 72, so any password sharing the first 72 bytes
// would match. Rails' has_secure_password never let users set a longer
// password, but Devise allows up to 128 characters and bcrypt truncated
// them silently; such a user is refused here and must reset their
// password, which is the price of never accepting a guess on the strength
// of a prefix. The comparison still runs, on the first 72 bytes, and its
// result is dropped: returning at once answered in 2 ms where a wrong
// password takes a quarter of a second, telling an attacker that the
// account exists and holds a legacy digest.
func verifyBcrypt(password, digest string) (bool, error) {
	if err := checkBcrypt(digest); err != nil {
		return false, err
	}
	tooLong := len(password) > bcryptMaxPassword
	err := bcrypt.CompareHashAndPassword([]byte(digest), []byte(password[:min(len(password), bcryptMaxPassword)]))
	switch {
	case err == nil:
		return !tooLong, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	default:
		return false, malformed("bcrypt: " + err.Error())
	}
}
