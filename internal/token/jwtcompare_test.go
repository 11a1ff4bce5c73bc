package token

import (
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// This file keeps the measurement behind Verify's doc comment repeatable:
// the same checks as Verify, built on golang-jwt's Parser.

// strictJWTClaims decodes with parseClaims, so both verifiers are equally
// strict about the claims.
type strictJWTClaims struct{ jwtClaims }

func (c *strictJWTClaims) UnmarshalJSON(b []byte) error {
	v, err := parseClaims(b)
	c.jwtClaims = jwtClaims(v)
	return err
}

// verifyGolangJWT is Verify on golang-jwt. Parser cannot see duplicate
// header keys (it decodes into a map), so it gets the same header check
// first.
func verifyGolangJWT(i *Issuer, p *jwt.Parser, tok string, now time.Time) (Claims, error) {
	if len(tok) > MaxSize {
		return Claims{}, ErrTooLarge
	}
	if len(tok) < len(hs256Header) || tok[:len(hs256Header)] != hs256Header {
		return Claims{}, ErrMalformed // the slow path is not what we measure
	}
	var sc strictJWTClaims
	_, err := p.ParseWithClaims(tok, &sc, func(*jwt.Token) (any, error) { return testKey(0), nil })
	switch {
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return Claims{}, ErrSignature
	case err != nil:
		return Claims{}, ErrMalformed
	}
	c := Claims(sc.jwtClaims)
	switch {
	case c.Exp > now.Add(i.ttl+i.leeway).Unix():
		return Claims{}, ErrMalformed
	case c.Exp <= now.Add(-i.leeway).Unix():
		return c, ErrExpired
	}
	return c, nil
}

func newJWTParser() *jwt.Parser {
	return jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithoutClaimsValidation(), jwt.WithStrictDecoding())
}

func TestVerifyGolangJWTAgrees(t *testing.T) {
	t.Parallel()
	i := newTestIssuer(t)
	tok, err := i.Issue(seedClaims385)
	if err != nil {
		t.Fatal(err)
	}
	p := newJWTParser()
	for _, tok := range []string{tok, seedToken385, signHS256(hdr, claimsWith("", uidJSON))} {
		c1, err1 := i.Verify(tok, testNow)
		c2, err2 := verifyGolangJWT(i, p, tok, testNow)
		if c1 != c2 || !errors.Is(err1, err2) {
			t.Errorf("Verify(%.40q…) = %+v, %v; golang-jwt = %+v, %v", tok, c1, err1, c2, err2)
		}
	}
}

func BenchmarkVerifyGolangJWT(b *testing.B) {
	i := newTestIssuer(b)
	tok, err := i.Issue(seedClaims385)
	if err != nil {
		b.Fatal(err)
	}
	p := newJWTParser()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := verifyGolangJWT(i, p, tok, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyForgedGolangJWT(b *testing.B) {
	i := newTestIssuer(b)
	p := newJWTParser()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := verifyGolangJWT(i, p, seedToken385, testNow); !errors.Is(err, ErrSignature) {
			b.Fatal(err)
		}
	}
}
