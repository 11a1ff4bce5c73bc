package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// FuzzVerify checks that Verify never panics, never returns claims with
// an error other than ErrExpired, and never accepts a token whose
// signature an independent HMAC check rejects. Each input is also re-signed
// with the key, so that the fuzzer reaches the header and claims decoders
// behind the signature check.
func FuzzVerify(f *testing.F) {
	i := newTestIssuer(f)
	valid, err := i.Issue(seedClaims385)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		valid, seedToken385, seedToken386,
		signHS256(`{"alg":"HS256","typ":"JWT","kid":"k1"}`, claimsWith("", `"x":1`)),
		"", ".", "..", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "\x00\xff.\n.=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		check(t, i, tok)
		if h, p, ok := strings.Cut(tok, "."); ok {
			p, _, _ = strings.Cut(p, ".")
			check(t, i, sign(sha256.New, testKey(0), h, p))
		}
	})
}

func check(t *testing.T, i *Issuer, tok string) {
	c, err := i.Verify(tok, testNow)
	if err != nil && !errors.Is(err, ErrExpired) {
		if c != (Claims{}) {
			t.Fatalf("Verify(%q) = %+v, %v; want zero claims with the error", tok, c, err)
		}
		return
	}
	if c.UserID <= 0 || !isUUID(c.UID) || !isUUID(c.RUID) {
		t.Fatalf("Verify(%q) = %+v, %v; want valid claims", tok, c, err)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("Verify(%q) accepted %d segments", tok, len(parts))
	}
	mac := hmac.New(sha256.New, testKey(0))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if want := base64.RawURLEncoding.EncodeToString(mac.Sum(nil)); parts[2] != want {
		t.Fatalf("Verify(%q) = %+v, %v; but its signature is not %q", tok, c, err, want)
	}
}

// FuzzVerifyRing checks Verify with a ring of every algorithm: it never
// panics, and whatever it accepts an independent check accepts too (the
// HMAC of one of the HS256 keys, or the named key's Ed25519 / ECDSA
// signature, through go-jose given the JWKS).
func FuzzVerifyRing(f *testing.F) {
	i := newTestIssuer(f)
	keys := []Key{{ID: RootKeyID, Alg: HS256, Material: testKey(0)}, mustKey(f, "ed", EdDSA), mustKey(f, "ec", ES256)}
	var seeds []string
	for _, signer := range []string{RootKeyID, "ed", "ec"} {
		if err := i.SetKeys(keys, signer); err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, mustIssue(f, i, seedClaims385))
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(i.JWKS(), &set); err != nil {
		f.Fatal(err)
	}
	for _, s := range append(seeds, seedToken385, b64(`{"alg":"EdDSA","kid":"ec"}`)+".e30.", "a.b.c") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := i.Verify(tok, testNow)
		if err != nil && !errors.Is(err, ErrExpired) {
			if c != (Claims{}) {
				t.Fatalf("Verify(%q) = %+v, %v; want zero claims with the error", tok, c, err)
			}
			return
		}
		if strings.HasPrefix(tok, hs256Header+".") || !strings.Contains(tok, "kid") && len(strings.Split(tok, ".")[2]) == sigLen {
			check(t, newTestIssuer(t), tok)
			return
		}
		jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256})
		if err != nil {
			t.Fatalf("Verify accepted %q, go-jose cannot parse it: %v", tok, err)
		}
		k := set.Key(jws.Signatures[0].Header.KeyID)
		if len(k) != 1 {
			t.Fatalf("Verify accepted %q, whose kid is not in the JWKS", tok)
		}
		if _, err := jws.Verify(k[0]); err != nil {
			t.Fatalf("Verify accepted %q, go-jose refuses it: %v", tok, err)
		}
	})
}
