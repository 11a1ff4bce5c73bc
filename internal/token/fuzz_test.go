package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
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
