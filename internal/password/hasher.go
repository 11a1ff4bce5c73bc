package password

import (
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"time"

	"golang.org/x/crypto/argon2"
)

// Hasher hashes new passwords with one set of argon2id parameters and
// verifies stored argon2id or bcrypt hashes. It is safe for concurrent
// use; its one changing state is how long verifications take (see
// FailureFloor).
type Hasher struct {
	params Params
	// dummy is a hash of a random password made with params, verified by
	// DummyVerify when there is no real hash to check.
	dummy string
	pace  *pace
}

// NewHasher returns a Hasher that hashes with p. It computes one hash up
// front for DummyVerify, so it costs one Hash. It panics if p is outside the
// bounds Verify accepts (for example zero Time or Threads), because that is a
// configuration mistake that must stop the server starting, not a condition
// to handle per request.
func NewHasher(p Params) *Hasher {
	if err := p.validate(); err != nil {
		panic("password: NewHasher: invalid params: " + err.Error())
	}
	h := &Hasher{params: p, pace: &pace{}}
	// A random password means DummyVerify can never succeed, whatever the
	// caller passes.
	dummy, err := h.Hash(rand.Text())
	if err != nil {
		panic("password: NewHasher: " + err.Error())
	}
	h.dummy = dummy
	// The failure floor starts at what an unknown email costs.
	h.DummyVerify(rand.Text())
	return h
}

// Params returns the parameters h hashes with.
func (h *Hasher) Params() Params { return h.params }

// Hash returns an argon2id PHC string for password, such as
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>, with a fresh random salt.
// Salt and key are unpadded standard base64, as the reference
// implementation writes them.
func (h *Hasher) Hash(password string) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: read salt: %w", err)
	}
	p := h.params
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return encodePHC(p, salt, key), nil
}

// Verify reports whether password matches encoded, an argon2id PHC string
// (with whatever parameters it records, within sane bounds) or a bcrypt
// digest ($2a$, $2b$ or $2y$, as written by Rails and Devise). A mismatch is
// (false, nil); an encoded value that cannot be parsed, or whose parameters
// are absurd, is (false, err) with err wrapping ErrMalformedHash.
//
// A bcrypt digest is compared with the first 72 bytes of the password, as
// Rails did (see verifyBcrypt); NeedsRehash then upgrades it to argon2id of
// the whole password.
//
// Every call's duration feeds FailureFloor.
func (h *Hasher) Verify(password, encoded string) (bool, error) {
	start := time.Now()
	defer func() { h.pace.observe(encoded, time.Since(start)) }()
	if isBcrypt(encoded) {
		return verifyBcrypt(password, encoded)
	}
	stored, err := parsePHC(encoded)
	if err != nil {
		return false, err
	}
	p := stored.params
	key := argon2.IDKey([]byte(password), stored.salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	// Constant time so response timing does not reveal how many leading
	// bytes of the key an attacker's guess got right.
	return subtle.ConstantTimeCompare(key, stored.key) == 1, nil
}

// NeedsRehash reports whether encoded should be replaced by h.Hash of the
// same password after a successful Verify: always for bcrypt, for argon2id
// when its memory, time, threads, key length or salt length is below h's,
// and for anything malformed. A hash stronger than h's is kept, so lowering
// the configured cost never downgrades existing users.
func (h *Hasher) NeedsRehash(encoded string) bool {
	if isBcrypt(encoded) {
		return true
	}
	stored, err := parsePHC(encoded)
	if err != nil {
		return true
	}
	return stored.params.weakerThan(h.params)
}

// DummyVerify does the work of one Verify with h's parameters and discards
// the result. Call it when the account does not exist, so an unknown email
// takes as long as a wrong password and response times do not reveal which
// emails are registered.
func (h *Hasher) DummyVerify(password string) {
	_, _ = h.Verify(password, h.dummy)
}
