// Package seal keeps secrets at rest: AES-256-GCM under a key derived
// from the root secret for one purpose, so that a copy of the database
// alone opens nothing, and each sealed value bound to where it belongs
// (its row), so that sealed bytes moved elsewhere open nowhere. The
// signing-key ring (package keyring) and TOTP secrets (package mfa) use
// it.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
)

// ErrOpen means sealed bytes do not open: another root secret or purpose
// sealed them, or they were altered or moved to another row.
var ErrOpen = errors.New("seal: does not open with this root secret")

// Box seals and opens values for one purpose.
type Box struct {
	aead cipher.AEAD
}

// New returns the Box of purpose under root. The key is HMAC-SHA256(root,
// purpose): domain separation, so that no purpose's key (nor the root
// secret, itself an HS256 key) can stand in for another's.
func New(root []byte, purpose string) (*Box, error) {
	mac := hmac.New(sha256.New, root)
	mac.Write([]byte(purpose))
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// Seal returns nonce ‖ ciphertext of plain, bound to aad.
func (b *Box) Seal(plain, aad []byte) []byte {
	nonce := make([]byte, b.aead.NonceSize())
	rand.Read(nonce)
	return b.aead.Seal(nonce, nonce, plain, aad)
}

// Open returns the plain text of sealed, which must be bound to aad.
func (b *Box) Open(sealed, aad []byte) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < n {
		return nil, ErrOpen
	}
	plain, err := b.aead.Open(nil, sealed[:n], sealed[n:], aad)
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}
