package password

import (
	"errors"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// bcrypt only ever reads the first 72 bytes of a password; verifyBcrypt cuts
// there itself rather than rely on what a library does with the rest.
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
// bcrypt's base64), so a malformed digest is reported as such rather than
// as a mismatch.
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

// verifyBcrypt compares password with a bcrypt digest exactly as the Rails
// app did: bcrypt reads only the first 72 bytes, so a longer password whose
// first 72 bytes match is accepted, whatever follows.
//
// Refusing it instead locked out, for good, every imported user whose
// password was longer (Devise allows 128 characters and its bcrypt
// truncated silently; has_secure_password never allowed it), and no one
// could tell who they were: a digest does not reveal the length. Accepting
// it grants nothing the Rails app did not already grant for that account —
// whoever knew the first 72 bytes could sign in there too — and only until
// the account's first sign-in: that success stores argon2id of the whole
// password (NeedsRehash is true for every bcrypt digest), from which on
// every byte counts.
func verifyBcrypt(password, digest string) (bool, error) {
	if err := checkBcrypt(digest); err != nil {
		return false, err
	}
	err := bcrypt.CompareHashAndPassword([]byte(digest), []byte(password[:min(len(password), bcryptMaxPassword)]))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	default:
		return false, malformed("bcrypt: " + err.Error())
	}
}
