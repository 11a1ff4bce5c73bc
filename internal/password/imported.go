package password

import (
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// Bounds on hashes brought in by an import, tighter than what Verify
// accepts from a stored row. An imported hash decides what every sign-in
// of its user costs, and, since failed sign-ins are padded to the slowest
// kind of hash in use (see Pacer), what every failed sign-in costs in
// time. So they are set to what one hash slot can afford within the
// default --hash-wait of one second:
//
//   - bcrypt cost 4 to 14: Rails and Devise write 12 (about 0.25 s on one
//     core), hardened apps 13 or 14 (about 1 s); 15 and 16 would take 2 and
//     4 s and hold a slot past every queued sign-in's patience.
//   - argon2id memory at most 64 MiB, passes at most 4, lanes at most 8:
//     PHP's password_hash default (64 MiB, t=4) and libsodium's interactive
//     preset (64 MiB, t=2) fit, as do RFC 9106's second recommendation
//     (64 MiB, t=3, p=4) and Gatehouse's own (19 MiB, t=2, p=1). One such
//     verify is at most about 7 times the default's work; the memory of
//     hash slots × 64 MiB stays within a small node. Presets above (RFC
//     9106's 2 GiB one, Django's 100 MiB × 8 lanes) are refused: those
//     users need a new password, not a sign-in that takes a node down.
const (
	MinImportBcryptCost  = bcrypt.MinCost
	MaxImportBcryptCost  = 14
	MaxImportArgonMemory = 64 << 10 // KiB
	MaxImportArgonTime   = 4
	MaxImportArgonLanes  = 8
)

// CheckImported reports why encoded cannot be imported as a password hash:
// it is not a bcrypt digest ($2a$, $2b$, $2y$) or an argon2id PHC string
// that Verify accepts, it could never match any password, or its cost is
// above the import bounds. The error wraps ErrMalformedHash, never echoes
// encoded, and its message reads as a sentence about "the digest".
func CheckImported(encoded string) error {
	switch {
	case isBcrypt(encoded):
		return checkImportedBcrypt(encoded)
	case strings.HasPrefix(encoded, "$argon2id$"):
		return checkImportedArgon2id(encoded)
	}
	return malformed("neither a bcrypt digest ($2a$, $2b$, $2y$) nor an argon2id hash")
}

func checkImportedBcrypt(d string) error {
	if err := checkBcrypt(d); err != nil {
		return err
	}
	if cost := int(d[4]-'0')*10 + int(d[5]-'0'); cost > MaxImportBcryptCost {
		return malformed(fmt.Sprintf("bcrypt cost %d is above %d, the most a sign-in affords", cost, MaxImportBcryptCost))
	}
	// The 31 characters of the hash carry 186 bits for 184: bcrypt
	// compares the stored text with the text it encodes, so a last
	// character with either spare bit set never matches any password.
	if strings.IndexByte(bcryptAlphabet, d[len(d)-1])%4 != 0 {
		return malformed("bcrypt hash is not canonical bcrypt base64 (it can never match)")
	}
	if _, err := bcrypt.Cost([]byte(d)); err != nil {
		return malformed("bcrypt: " + err.Error())
	}
	return nil
}

func checkImportedArgon2id(s string) error {
	stored, err := parsePHC(s)
	if err != nil {
		return err
	}
	p := stored.params
	switch {
	case p.Memory > MaxImportArgonMemory:
		return malformed(fmt.Sprintf("argon2id memory %d KiB is above %d KiB, the most a sign-in affords", p.Memory, MaxImportArgonMemory))
	case p.Time > MaxImportArgonTime:
		return malformed(fmt.Sprintf("argon2id passes %d are above %d, the most a sign-in affords", p.Time, MaxImportArgonTime))
	case p.Threads > MaxImportArgonLanes:
		return malformed(fmt.Sprintf("argon2id lanes %d are above %d", p.Threads, MaxImportArgonLanes))
	}
	return nil
}

// bcryptAlphabet is bcrypt's base64 alphabet, in value order.
const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
