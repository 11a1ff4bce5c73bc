package token

import (
	"bytes"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

func mustKey(t testing.TB, id, alg string) Key {
	t.Helper()
	k, err := GenerateKey(id, alg)
	if err != nil {
		t.Fatalf("GenerateKey(%q, %q): %v", id, alg, err)
	}
	return k
}

func mustIssue(t testing.TB, i *Issuer, c Claims) string {
	t.Helper()
	tok, err := i.Issue(c)
	if err != nil {
		t.Fatalf("Issue(%+v): %v", c, err)
	}
	return tok
}

// A rotation of HS256 keys keeps the seed's header (no kid) and every key
// of the ring verifying, and stops a key's tokens only when it leaves the
// ring.
func TestRingRotatesHS256(t *testing.T) {
	t.Parallel()
	i := newTestIssuer(t)
	root := Key{ID: RootKeyID, Alg: HS256, Material: testKey(0)}
	fromRoot := mustIssue(t, i, seedClaims385)

	next := mustKey(t, "k1", HS256)
	if err := i.SetKeys([]Key{root, next}, "k1"); err != nil {
		t.Fatalf("SetKeys(root, k1 signing): %v", err)
	}
	fromNext := mustIssue(t, i, seedClaims385)
	if h, _, _ := strings.Cut(fromNext, "."); h != hs256Header {
		t.Errorf("header of a token from ring key k1 = %s, want the seed's %s", mustDecode(t, h), hdr)
	}
	if fromNext == fromRoot {
		t.Error("the token signed by k1 equals the one signed by root")
	}
	for name, tok := range map[string]string{"root": fromRoot, "k1": fromNext} {
		if _, err := i.Verify(tok, testNow); err != nil {
			t.Errorf("Verify(token of %s) with ring {root, k1}: %v, want nil", name, err)
		}
	}

	if err := i.SetKeys([]Key{next}, "k1"); err != nil {
		t.Fatalf("SetKeys(k1): %v", err)
	}
	if _, err := i.Verify(fromRoot, testNow); !errors.Is(err, ErrSignature) {
		t.Errorf("Verify(token of root) after root left the ring: %v, want ErrSignature", err)
	}
	if _, err := i.Verify(fromNext, testNow); err != nil {
		t.Errorf("Verify(token of k1) with ring {k1}: %v, want nil", err)
	}
}

func TestSetKeysRejects(t *testing.T) {
	t.Parallel()
	k1 := mustKey(t, "k1", EdDSA)
	tests := []struct {
		name   string
		keys   []Key
		signer string
	}{
		{name: "signer_missing", keys: []Key{k1}, signer: "k2"},
		{name: "repeated_id", keys: []Key{k1, k1}, signer: "k1"},
		{name: "empty_id", keys: []Key{{Alg: HS256, Material: testKey(1)}}, signer: ""},
		{name: "short_hs256", keys: []Key{{ID: "h", Alg: HS256, Material: testKey(1)[:31]}}, signer: "h"},
		{name: "bad_seed", keys: []Key{{ID: "e", Alg: EdDSA, Material: []byte("short")}}, signer: "e"},
		{name: "bad_scalar", keys: []Key{{ID: "p", Alg: ES256, Material: make([]byte, 32)}}, signer: "p"},
		{name: "unknown_alg", keys: []Key{{ID: "r", Alg: "RS256", Material: testKey(1)}}, signer: "r"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			i := newTestIssuer(t)
			if err := i.SetKeys(tt.keys, tt.signer); err == nil {
				t.Errorf("SetKeys(%s) = nil, want an error", tt.name)
			}
			if got := i.SignerID(); got != RootKeyID {
				t.Errorf("SignerID() after a refused SetKeys = %q, want %q (ring unchanged)", got, RootKeyID)
			}
		})
	}
}

// Tokens of EdDSA and ES256 keys carry their kid, verify here, and verify
// with an independent JOSE library given only the published JWKS.
func TestAsymmetricTokensVerifyWithJWKS(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{EdDSA, ES256} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			i := newTestIssuer(t)
			root := Key{ID: RootKeyID, Alg: HS256, Material: testKey(0)}
			if err := i.SetKeys([]Key{root, mustKey(t, "old", alg), mustKey(t, "new", alg)}, "new"); err != nil {
				t.Fatalf("SetKeys: %v", err)
			}
			tok := mustIssue(t, i, seedClaims385)
			h, _, _ := strings.Cut(tok, ".")
			if got, want := string(mustDecode(t, h)), `{"alg":"`+alg+`","kid":"new"}`; got != want {
				t.Errorf("header = %s, want %s", got, want)
			}
			if got, err := i.Verify(tok, testNow); err != nil || got != seedClaims385 {
				t.Errorf("Verify(%s token) = %+v, %v; want the claims, nil", alg, got, err)
			}

			jwks := i.JWKS()
			if bytes.Contains(jwks, []byte(`"d"`)) || bytes.Contains(jwks, []byte(base64.RawURLEncoding.EncodeToString(testKey(0)))) {
				t.Fatalf("JWKS %s holds private material", jwks)
			}
			var set jose.JSONWebKeySet
			if err := json.Unmarshal(jwks, &set); err != nil {
				t.Fatalf("go-jose: unmarshal JWKS %s: %v", jwks, err)
			}
			if len(set.Keys) != 2 {
				t.Fatalf("JWKS has %d keys, want the 2 %s keys (never the HS256 one)", len(set.Keys), alg)
			}
			sig, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				t.Fatalf("go-jose: parse %s token: %v", alg, err)
			}
			keys := set.Key(sig.Signatures[0].Header.KeyID)
			if len(keys) != 1 || !keys[0].IsPublic() {
				t.Fatalf("go-jose: JWKS key for kid %q: %v, want one public key", sig.Signatures[0].Header.KeyID, keys)
			}
			payload, err := sig.Verify(keys[0])
			if err != nil {
				t.Fatalf("go-jose: verify %s token with the JWKS: %v", alg, err)
			}
			if want := mustDecode(t, strings.Split(tok, ".")[1]); !bytes.Equal(payload, want) {
				t.Errorf("go-jose payload = %s, want %s", payload, want)
			}
		})
	}
}

// A header may only pick among keys that have its algorithm: the classic
// confusion (HS256 keyed with a public key) and unknown kids fail.
func TestAsymmetricVerifyRejects(t *testing.T) {
	t.Parallel()
	i := newTestIssuer(t)
	ed, ec := mustKey(t, "ed", EdDSA), mustKey(t, "ec", ES256)
	if err := i.SetKeys([]Key{ed, ec}, "ec"); err != nil {
		t.Fatal(err)
	}
	good := mustIssue(t, i, seedClaims385)
	parts := strings.Split(good, ".")
	pub := mustDecode(t, jwksX(t, i, "ed"))
	lowS := mustDecode(t, parts[2])
	n := elliptic.P256().Params().N
	highS := append(append([]byte(nil), lowS[:32]...), new(big.Int).Sub(n, new(big.Int).SetBytes(lowS[32:])).FillBytes(make([]byte, 32))...)
	claims := b64(`{` + expJSON + `,` + userJSON + `,` + uidJSON + `,` + ruidJSON + `}`)

	tests := []struct {
		name string
		tok  string
		want error
	}{
		{"hs256_keyed_with_public_key", sign(sha256.New, pub, `{"alg":"HS256"}`, string(mustDecode(t, claims))), ErrSignature},
		{"unknown_kid", b64(`{"alg":"ES256","kid":"nope"}`) + "." + parts[1] + "." + parts[2], ErrMalformed},
		{"kid_of_other_alg", b64(`{"alg":"EdDSA","kid":"ec"}`) + "." + parts[1] + "." + parts[2], ErrMalformed},
		{"no_kid", b64(`{"alg":"ES256"}`) + "." + parts[1] + "." + parts[2], ErrMalformed},
		{"escaped_kid", b64(`{"alg":"ES256","kid":"e\u0063"}`) + "." + parts[1] + "." + parts[2], ErrMalformed},
		{"alg_none", b64(`{"alg":"none","kid":"ec"}`) + "." + parts[1] + ".", ErrMalformed},
		{"high_s_spelling", parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(highS), ErrSignature},
		{"short_signature", parts[0] + "." + parts[1] + "." + parts[2][:84], ErrSignature},
		{"other_payload", parts[0] + "." + b64(`{`+expJSON+`,"user_id":386,`+uidJSON+`,`+ruidJSON+`}`) + "." + parts[2], ErrSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if c, err := i.Verify(tt.tok, testNow); !errors.Is(err, tt.want) || c != (Claims{}) {
				t.Errorf("Verify(%s) = %+v, %v; want zero claims, %v", tt.name, c, err, tt.want)
			}
		})
	}
}

// jwksX is the x member of the published key kid.
func jwksX(t *testing.T, i *Issuer, kid string) string {
	t.Helper()
	var set struct{ Keys []jwk }
	if err := json.Unmarshal(i.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	for _, k := range set.Keys {
		if k.Kid == kid {
			return k.X
		}
	}
	t.Fatalf("kid %q not in JWKS %s", kid, i.JWKS())
	return ""
}

func TestGenerateKeyMaterialRoundTrips(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{HS256, EdDSA, ES256} {
		k := mustKey(t, "k", alg)
		a, b := newTestIssuer(t), newTestIssuer(t)
		if err := a.SetKeys([]Key{k}, "k"); err != nil {
			t.Fatal(err)
		}
		// b only gets the stored form: id, alg and material.
		if err := b.SetKeys([]Key{{ID: k.ID, Alg: k.Alg, Material: append([]byte(nil), k.Material...)}}, "k"); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Verify(mustIssue(t, a, seedClaims385), testNow); err != nil {
			t.Errorf("%s: a token of a key verifies with the key rebuilt from its material: %v", alg, err)
		}
	}
	if _, err := GenerateKey("k", "RS256"); err == nil {
		t.Error("GenerateKey(RS256) = nil error, want unknown algorithm")
	}
}

// ringOf3 is the root key plus two retired HS256 keys, signed by signer.
func ringOf3(b *testing.B, signer string) *Issuer {
	i := newTestIssuer(b)
	keys := []Key{{ID: RootKeyID, Alg: HS256, Material: testKey(0)}, {ID: "k1", Alg: HS256, Material: testKey(1)}, {ID: "k2", Alg: HS256, Material: testKey(2)}}
	if err := i.SetKeys(keys, signer); err != nil {
		b.Fatal(err)
	}
	return i
}

func benchVerify(b *testing.B, signing, verifying *Issuer) {
	tok, err := signing.Issue(seedClaims385)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := verifying.Verify(tok, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyRing3 is BenchmarkVerify with a ring of three HS256
// keys, for a token of the signing key (nearly every token): the target
// is within 5 % of one key.
func BenchmarkVerifyRing3(b *testing.B) {
	i := ringOf3(b, "k2")
	benchVerify(b, i, i)
}

// BenchmarkVerifyRing3Oldest verifies a token of the last key tried: the
// worst case, a token from before a rotation.
func BenchmarkVerifyRing3Oldest(b *testing.B) {
	benchVerify(b, newTestIssuer(b), ringOf3(b, "k2"))
}

// BenchmarkVerifyForgedRing3: a forged token costs one HMAC per key.
func BenchmarkVerifyForgedRing3(b *testing.B) {
	i := ringOf3(b, "k2")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := i.Verify(seedToken385, testNow); !errors.Is(err, ErrSignature) {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyEdDSA(b *testing.B) {
	i := newTestIssuer(b)
	if err := i.SetKeys([]Key{mustKey(b, "e", EdDSA)}, "e"); err != nil {
		b.Fatal(err)
	}
	benchVerify(b, i, i)
}

func BenchmarkVerifyES256(b *testing.B) {
	i := newTestIssuer(b)
	if err := i.SetKeys([]Key{mustKey(b, "p", ES256)}, "p"); err != nil {
		b.Fatal(err)
	}
	benchVerify(b, i, i)
}
