package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"
	"math/big"
	"sync"
)

// The signing algorithms, as JOSE names them. HS256 is the seed's; EdDSA
// (Ed25519) and ES256 (ECDSA P-256) let other services verify tokens with a
// public key instead of the shared secret.
const (
	HS256 = "HS256"
	EdDSA = "EdDSA"
	ES256 = "ES256"
)

// RootKeyID names the key NewIssuer starts with: the root secret, the
// seed's implicit HS256 key.
const RootKeyID = "root"

// Key is one key of the signing ring. Material is the secret part in
// the form ParseKey reads: the HS256 secret, the Ed25519 seed, or the P-256
// private scalar.
type Key struct {
	ID       string
	Alg      string
	Material []byte
}

// GenerateKey makes a new random key. HS256 keys are 32 bytes, the size of
// the hash output (RFC 7518 section 3.2).
func GenerateKey(id, alg string) (Key, error) {
	var material []byte
	switch alg {
	case HS256, EdDSA:
		material = make([]byte, 32)
		rand.Read(material)
	case ES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return Key{}, fmt.Errorf("token: generate ES256 key: %w", err)
		}
		if material, err = k.Bytes(); err != nil {
			return Key{}, fmt.Errorf("token: generate ES256 key: %w", err)
		}
	default:
		return Key{}, fmt.Errorf("token: unknown algorithm %q (HS256, EdDSA or ES256)", alg)
	}
	return Key{ID: id, Alg: alg, Material: material}, nil
}

// Check reports whether k could join a ring: a known algorithm and
// material of the form it needs.
func (k Key) Check() error {
	_, err := parseKey(k)
	return err
}

// liveKey is a Key ready to sign and verify with.
type liveKey struct {
	Key
	signer crypto.Signer // EdDSA and ES256
	ed     ed25519.PublicKey
	ec     *ecdsa.PublicKey
}

func parseKey(k Key) (*liveKey, error) {
	lk := &liveKey{Key: k}
	lk.Material = append([]byte(nil), k.Material...)
	switch k.Alg {
	case HS256:
		if len(k.Material) < MinKeySize {
			return nil, fmt.Errorf("token: key %q is %d bytes, need at least %d", k.ID, len(k.Material), MinKeySize)
		}
	case EdDSA:
		if len(k.Material) != ed25519.SeedSize {
			return nil, fmt.Errorf("token: key %q: an Ed25519 seed is %d bytes, not %d", k.ID, ed25519.SeedSize, len(k.Material))
		}
		priv := ed25519.NewKeyFromSeed(k.Material)
		lk.signer, lk.ed = priv, priv.Public().(ed25519.PublicKey)
	case ES256:
		priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), k.Material)
		if err != nil {
			return nil, fmt.Errorf("token: key %q: %w", k.ID, err)
		}
		lk.signer, lk.ec = priv, &priv.PublicKey
	default:
		return nil, fmt.Errorf("token: key %q: unknown algorithm %q", k.ID, k.Alg)
	}
	return lk, nil
}

// keySet is one immutable snapshot of the ring. SetKeys swaps whole
// snapshots, so a Verify sees either the old ring or the new one.
type keySet struct {
	signer *liveKey
	// hs are the HS256 keys, the signer (if HS256) first: a seed-format
	// token carries no kid, so Verify tries these in order, and tokens of
	// the signing key, nearly all of them, cost one HMAC.
	hs []*liveKey
	// public are the asymmetric keys by kid.
	public  map[string]*liveKey
	jwks    []byte
	scratch sync.Pool // *macState with one HMAC per hs key
}

func newKeySet(keys []Key, signerID string) (*keySet, error) {
	ks := &keySet{public: map[string]*liveKey{}}
	seen := map[string]bool{}
	var others []*liveKey
	for _, k := range keys {
		if k.ID == "" || seen[k.ID] {
			return nil, fmt.Errorf("token: key id %q is empty or repeated", k.ID)
		}
		seen[k.ID] = true
		lk, err := parseKey(k)
		if err != nil {
			return nil, err
		}
		switch {
		case k.ID == signerID:
			ks.signer = lk
		case k.Alg == HS256:
			others = append(others, lk)
		}
		if k.Alg != HS256 {
			ks.public[k.ID] = lk
		}
	}
	if ks.signer == nil {
		return nil, fmt.Errorf("token: signing key %q is not in the ring", signerID)
	}
	if ks.signer.Alg == HS256 {
		ks.hs = append(ks.hs, ks.signer)
	}
	ks.hs = append(ks.hs, others...)
	var err error
	if ks.jwks, err = buildJWKS(keys, ks.public); err != nil {
		return nil, err
	}
	ks.scratch.New = func() any {
		m := &macState{macs: make([]hash.Hash, len(ks.hs))}
		for i, k := range ks.hs {
			m.macs[i] = hmac.New(sha256.New, k.Material)
		}
		return m
	}
	return ks, nil
}

// SetKeys replaces the ring: every key in keys verifies, the one called
// signerID signs. Tokens in flight are unaffected; the next Issue and
// Verify use the new ring.
func (i *Issuer) SetKeys(keys []Key, signerID string) error {
	ks, err := newKeySet(keys, signerID)
	if err != nil {
		return err
	}
	i.keys.Store(ks)
	return nil
}

// SignerID is the id of the key that signs.
func (i *Issuer) SignerID() string { return i.keys.Load().signer.ID }

// JWKS returns the JSON Web Key Set of the ring's public keys (RFC 7517):
// {"keys":[…]}, never an HS256 secret.
func (i *Issuer) JWKS() []byte { return i.keys.Load().jwks }

type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y,omitempty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

func buildJWKS(keys []Key, public map[string]*liveKey) ([]byte, error) {
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{}}
	b64 := base64.RawURLEncoding.EncodeToString
	for _, k := range keys { // in the caller's order, for a stable document
		lk := public[k.ID]
		switch {
		case lk == nil:
		case lk.ed != nil:
			set.Keys = append(set.Keys, jwk{Kty: "OKP", Crv: "Ed25519", X: b64(lk.ed), Kid: k.ID, Alg: EdDSA, Use: "sig"})
		default:
			raw, err := lk.ec.Bytes() // 0x04 ‖ X ‖ Y
			if err != nil {
				return nil, fmt.Errorf("token: key %q: %w", k.ID, err)
			}
			set.Keys = append(set.Keys, jwk{Kty: "EC", Crv: "P-256", X: b64(raw[1:33]), Y: b64(raw[33:]), Kid: k.ID, Alg: ES256, Use: "sig"})
		}
	}
	return json.Marshal(set)
}

// p256HalfOrder is n/2 for P-256. Signatures are issued and accepted with
// s at most n/2 only, so that, as with HS256 and Ed25519, a token has one
// valid spelling: (r, s) and (r, n-s) both satisfy ECDSA.
var p256HalfOrder = new(big.Int).Rsh(elliptic.P256().Params().N, 1)

// sign signs input with an asymmetric key: 64 bytes either way.
func (k *liveKey) sign(input []byte) ([]byte, error) {
	if k.ed != nil {
		return ed25519.Sign(k.signer.(ed25519.PrivateKey), input), nil
	}
	h := sha256.Sum256(input)
	r, s, err := ecdsa.Sign(rand.Reader, k.signer.(*ecdsa.PrivateKey), h[:])
	if err != nil {
		return nil, err
	}
	if s.Cmp(p256HalfOrder) > 0 {
		s.Sub(elliptic.P256().Params().N, s)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return sig, nil
}

// verify checks a 64-byte asymmetric signature of input.
func (k *liveKey) verify(input, sig []byte) bool {
	if k.ed != nil {
		return ed25519.Verify(k.ed, input, sig)
	}
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if s.Cmp(p256HalfOrder) > 0 {
		return false
	}
	h := sha256.Sum256(input)
	return ecdsa.Verify(k.ec, h[:], r, s)
}
