package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"hash"
	"strings"
	"testing"
	"time"
)

// Tokens from the seed (auth-api.apib), issued by the Rails API whose key
// we do not have.
const (
	seedToken385 = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE2MDQ1OTYzNjEsInVzZXJfaWQiOjM4NSwidWlkIjoiYzhlZGI4N2MtYzExNC00Mjg0LWFkOGQtN2Q3YjYxOTEzMGQyIiwicnVpZCI6IjdjNWUxNTBiLTY0NDUtNDk1ZS1iZDg5LWQ0ZDQ0MmZmODEzYSJ9.gDMlJC4viWI-2BxmklNe8E5992BdbDccwePtwTS9tU0"
	seedToken386 = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE2MDQ1OTYzNjEsInVzZXJfaWQiOjM4NiwidWlkIjoiZGYwNDI5MzgtMjgzZC00NjY2LTgxZTMtMTkxZjg2NDkzZDhkIiwicnVpZCI6ImQwY2Q3YzZiLTA3MmUtNDE3Ny04MzQxLWE1Y2FmMWJjNDBjYSJ9.yxQQ8roasTRu4RPm0HKmYmTfpmK1nhWdmHDUuL-O-2E"
)

var seedClaims385 = Claims{
	Exp:    1604596361,
	UserID: 385,
	UID:    "c8edb87c-c114-4284-ad8d-7d7b619130d2",
	RUID:   "7c5e150b-6445-495e-bd89-d4d442ff813a",
}

const (
	testTTL    = time.Hour
	testLeeway = 5 * time.Second
)

// testNow makes the seed's exp exactly one TTL away.
var testNow = time.Unix(seedClaims385.Exp, 0).Add(-testTTL)

func testKey(b byte) []byte {
	return []byte(strings.Repeat(string(rune('a'+b%26)), MinKeySize))
}

func newTestIssuer(t testing.TB) *Issuer {
	t.Helper()
	i, err := NewIssuer(testKey(0), testTTL, testLeeway)
	if err != nil {
		t.Fatalf("NewIssuer: %v", err)
	}
	return i
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// sign builds a token by hand from raw header and claims JSON, so tests can
// say things Issue never would.
func sign(h func() hash.Hash, key []byte, header, claims string) string {
	input := b64(header) + "." + b64(claims)
	mac := hmac.New(h, key)
	mac.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func mustDecode(t testing.TB, seg string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("decode %q: %v", seg, err)
	}
	return b
}

func signHS256(header, claims string) string {
	return sign(sha256.New, testKey(0), header, claims)
}

const (
	hdr      = `{"alg":"HS256"}`
	uidJSON  = `"uid":"c8edb87c-c114-4284-ad8d-7d7b619130d2"`
	ruidJSON = `"ruid":"7c5e150b-6445-495e-bd89-d4d442ff813a"`
	expJSON  = `"exp":1604596361`
	userJSON = `"user_id":385`
)

func TestNewIssuer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		key     []byte
		ttl     time.Duration
		leeway  time.Duration
		wantErr bool
	}{
		{name: "ok", key: testKey(0), ttl: time.Hour, leeway: 5 * time.Second},
		{name: "no_leeway", key: testKey(0), ttl: time.Hour},
		{name: "short_key", key: testKey(0)[:31], ttl: time.Hour, wantErr: true},
		{name: "nil_key", ttl: time.Hour, wantErr: true},
		{name: "zero_ttl", key: testKey(0), wantErr: true},
		{name: "negative_leeway", key: testKey(0), ttl: time.Hour, leeway: -time.Second, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewIssuer(tt.key, tt.ttl, tt.leeway)
			if (err != nil) != tt.wantErr {
				t.Errorf("NewIssuer(%d-byte key, %v, %v) error = %v, want error %v", len(tt.key), tt.ttl, tt.leeway, err, tt.wantErr)
			}
		})
	}
}

func TestNewIssuerCopiesKey(t *testing.T) {
	t.Parallel()
	key := testKey(0)
	i, err := NewIssuer(key, testTTL, testLeeway)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := i.Issue(seedClaims385)
	if err != nil {
		t.Fatal(err)
	}
	key[0] ^= 1
	if _, err := i.Verify(tok, testNow); err != nil {
		t.Errorf("Verify after caller changed its key slice: %v, want nil", err)
	}
}

func TestIssueVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	i := newTestIssuer(t)
	want := Claims{Exp: testNow.Add(testTTL).Unix(), UserID: 42, UID: NewUID(), RUID: NewUID()}
	tok, err := i.Issue(want)
	if err != nil {
		t.Fatalf("Issue(%+v): %v", want, err)
	}
	got, err := i.Verify(tok, testNow)
	if err != nil || got != want {
		t.Errorf("Verify(Issue(%+v)) = %+v, %v; want the same claims, nil", want, got, err)
	}
}

func TestIssueMatchesSeed(t *testing.T) {
	t.Parallel()
	tok, err := newTestIssuer(t).Issue(seedClaims385)
	if err != nil {
		t.Fatalf("Issue(%+v): %v", seedClaims385, err)
	}
	got := strings.Split(tok, ".")
	want := strings.Split(seedToken385, ".")
	if len(got) != 3 {
		t.Fatalf("Issue(%+v) = %q, want 3 segments", seedClaims385, tok)
	}
	if got[0] != "eyJhbGciOiJIUzI1NiJ9" || got[0] != want[0] {
		t.Errorf("header segment = %q, want %q", got[0], want[0])
	}
	if h, _ := base64.RawURLEncoding.DecodeString(got[0]); string(h) != `{"alg":"HS256"}` {
		t.Errorf("header = %s, want {\"alg\":\"HS256\"}", h)
	}
	if got[1] != want[1] {
		t.Errorf("payload segment = %q, want the seed's %q", got[1], want[1])
	}
	p, _ := base64.RawURLEncoding.DecodeString(got[1])
	const order = `{"exp":1604596361,"user_id":385,"uid":"c8edb87c-c114-4284-ad8d-7d7b619130d2","ruid":"7c5e150b-6445-495e-bd89-d4d442ff813a"}`
	if string(p) != order {
		t.Errorf("payload = %s, want %s", p, order)
	}
}

func TestIssueRejectsInvalidClaims(t *testing.T) {
	t.Parallel()
	i := newTestIssuer(t)
	tests := []struct {
		name   string
		modify func(*Claims)
	}{
		{name: "zero_user_id", modify: func(c *Claims) { c.UserID = 0 }},
		{name: "negative_user_id", modify: func(c *Claims) { c.UserID = -1 }},
		{name: "negative_exp", modify: func(c *Claims) { c.Exp = -1 }},
		{name: "empty_uid", modify: func(c *Claims) { c.UID = "" }},
		{name: "uppercase_ruid", modify: func(c *Claims) { c.RUID = strings.ToUpper(c.RUID) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := seedClaims385
			tt.modify(&c)
			if tok, err := i.Issue(c); err == nil {
				t.Errorf("Issue(%+v) = %q, nil; want an error", c, tok)
			}
		})
	}
}

func TestVerifySeedTokens(t *testing.T) {
	t.Parallel()
	i := newTestIssuer(t)
	for _, tok := range []string{seedToken385, seedToken386} {
		// Well formed, so the only fault Verify can find is our key.
		if c, err := i.Verify(tok, testNow); !errors.Is(err, ErrSignature) || c != (Claims{}) {
			t.Errorf("Verify(%.30q…) = %+v, %v; want zero claims, ErrSignature", tok, c, err)
		}
	}
}

func TestVerifyAccepts(t *testing.T) {
	t.Parallel()
	i := newTestIssuer(t)
	claims := "{" + expJSON + "," + userJSON + "," + uidJSON + "," + ruidJSON + "}"
	tests := []struct {
		name string
		tok  string
	}{
		{name: "canonical", tok: signHS256(hdr, claims)},
		{name: "golang_jwt_header", tok: signHS256(`{"alg":"HS256","typ":"JWT"}`, claims)},
		{name: "typ_first", tok: signHS256(`{"typ":"JWT","alg":"HS256"}`, claims)},
		{name: "typ_lowercase", tok: signHS256(`{"alg":"HS256","typ":"jwt"}`, claims)},
		{name: "kid", tok: signHS256(`{"alg":"HS256","kid":"2024-\u00e9\"1"}`, claims)},
		{name: "white_space", tok: signHS256(" {\n\t\"alg\" : \"HS256\" }\r\n", "{ "+expJSON+" ,\n"+userJSON+", "+uidJSON+","+ruidJSON+" } ")},
		{name: "claims_reordered", tok: signHS256(hdr, "{"+ruidJSON+","+uidJSON+","+userJSON+","+expJSON+"}")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got, err := i.Verify(tt.tok, testNow); err != nil || got != seedClaims385 {
				t.Errorf("Verify(%q) = %+v, %v; want %+v, nil", tt.tok, got, err, seedClaims385)
			}
		})
	}
}

// claimsWithout returns the seed claims as JSON, minus the member drop and
// plus extra members.
func claimsWith(drop string, extra ...string) string {
	var m []string
	for _, s := range []string{expJSON, userJSON, uidJSON, ruidJSON} {
		if drop == "" || !strings.HasPrefix(s, `"`+drop+`"`) {
			m = append(m, s)
		}
	}
	return "{" + strings.Join(append(m, extra...), ",") + "}"
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	i := newTestIssuer(t)
	valid := signHS256(hdr, claimsWith(""))
	parts := strings.Split(valid, ".")
	other, err := NewIssuer(testKey(1), testTTL, testLeeway)
	if err != nil {
		t.Fatal(err)
	}
	otherTok, err := other.Issue(seedClaims385)
	if err != nil {
		t.Fatal(err)
	}
	// The signature's last character carries two spare bits; flipping one
	// decodes to the same bytes.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, parts[2][len(parts[2])-1])
	respelled := parts[2][:len(parts[2])-1] + string(alphabet[last^1])
	if a, b := base64.RawURLEncoding.EncodeToString(mustDecode(t, respelled)), parts[2]; a != b {
		t.Fatalf("respelled signature %q decodes differently from %q", respelled, b)
	}
	sameBytes := parts[0] + "." + parts[1] + "." + respelled
	tests := []struct {
		name string
		tok  string
		want error
	}{
		{name: "wrong_key", tok: otherTok, want: ErrSignature},
		{name: "seed_token", tok: seedToken385, want: ErrSignature},
		{name: "tampered_payload", tok: parts[0] + "." + b64(claimsWith("user_id", `"user_id":1`)) + "." + parts[2], want: ErrSignature},
		{name: "signature_spare_bits", tok: sameBytes, want: ErrSignature},
		{name: "alg_none_unsigned", tok: b64(`{"alg":"none"}`) + "." + parts[1] + ".", want: ErrMalformed},
		{name: "alg_none_signed", tok: signHS256(`{"alg":"none"}`, claimsWith("")), want: ErrMalformed},
		{name: "alg_hs512", tok: sign(sha512.New, testKey(0), `{"alg":"HS512"}`, claimsWith("")), want: ErrMalformed},
		{name: "alg_rs256", tok: signHS256(`{"alg":"RS256","typ":"JWT"}`, claimsWith("")), want: ErrMalformed},
		{name: "alg_lowercase", tok: signHS256(`{"alg":"hs256"}`, claimsWith("")), want: ErrMalformed},
		{name: "alg_escaped", tok: signHS256(`{"alg":"HS\u0032\u0035\u0036"}`, claimsWith("")), want: ErrMalformed},
		{name: "alg_missing", tok: signHS256(`{"typ":"JWT"}`, claimsWith("")), want: ErrMalformed},
		{name: "alg_not_string", tok: signHS256(`{"alg":256}`, claimsWith("")), want: ErrMalformed},
		{name: "alg_duplicate", tok: signHS256(`{"alg":"HS256","alg":"none"}`, claimsWith("")), want: ErrMalformed},
		{name: "header_crit", tok: signHS256(`{"alg":"HS256","crit":["exp"]}`, claimsWith("")), want: ErrMalformed},
		{name: "header_jku", tok: signHS256(`{"alg":"HS256","jku":"https://evil.example/k"}`, claimsWith("")), want: ErrMalformed},
		{name: "header_jwk", tok: signHS256(`{"alg":"HS256","jwk":{"kty":"oct"}}`, claimsWith("")), want: ErrMalformed},
		{name: "header_x5u", tok: signHS256(`{"alg":"HS256","x5u":"https://evil.example/c"}`, claimsWith("")), want: ErrMalformed},
		{name: "header_typ_other", tok: signHS256(`{"alg":"HS256","typ":"at+jwt"}`, claimsWith("")), want: ErrMalformed},
		{name: "header_not_object", tok: signHS256(`["HS256"]`, claimsWith("")), want: ErrMalformed},
		{name: "header_invalid_utf8", tok: signHS256("{\"alg\":\"HS256\",\"kid\":\"\xff\"}", claimsWith("")), want: ErrMalformed},
		{name: "missing_exp", tok: signHS256(hdr, claimsWith("exp")), want: ErrMalformed},
		{name: "missing_user_id", tok: signHS256(hdr, claimsWith("user_id")), want: ErrMalformed},
		{name: "missing_uid", tok: signHS256(hdr, claimsWith("uid")), want: ErrMalformed},
		{name: "missing_ruid", tok: signHS256(hdr, claimsWith("ruid")), want: ErrMalformed},
		{name: "empty_claims", tok: signHS256(hdr, `{}`), want: ErrMalformed},
		{name: "exp_string", tok: signHS256(hdr, claimsWith("exp", `"exp":"1604596361"`)), want: ErrMalformed},
		{name: "exp_float", tok: signHS256(hdr, claimsWith("exp", `"exp":1.5`)), want: ErrMalformed},
		{name: "exp_integral_float", tok: signHS256(hdr, claimsWith("exp", `"exp":1604596361.0`)), want: ErrMalformed},
		{name: "exp_exponent", tok: signHS256(hdr, claimsWith("exp", `"exp":1604596361e0`)), want: ErrMalformed},
		{name: "exp_leading_zero", tok: signHS256(hdr, claimsWith("exp", `"exp":01604596361`)), want: ErrMalformed},
		{name: "exp_negative", tok: signHS256(hdr, claimsWith("exp", `"exp":-1`)), want: ErrMalformed},
		{name: "exp_overflow", tok: signHS256(hdr, claimsWith("exp", `"exp":9223372036854775808`)), want: ErrMalformed},
		{name: "exp_null", tok: signHS256(hdr, claimsWith("exp", `"exp":null`)), want: ErrMalformed},
		{name: "user_id_string", tok: signHS256(hdr, claimsWith("user_id", `"user_id":"385"`)), want: ErrMalformed},
		{name: "user_id_negative", tok: signHS256(hdr, claimsWith("user_id", `"user_id":-385`)), want: ErrMalformed},
		{name: "user_id_zero", tok: signHS256(hdr, claimsWith("user_id", `"user_id":0`)), want: ErrMalformed},
		{name: "user_id_float", tok: signHS256(hdr, claimsWith("user_id", `"user_id":385.0`)), want: ErrMalformed},
		{name: "uid_not_uuid", tok: signHS256(hdr, claimsWith("uid", `"uid":"not-a-uuid"`)), want: ErrMalformed},
		{name: "uid_uppercase", tok: signHS256(hdr, claimsWith("uid", `"uid":"C8EDB87C-C114-4284-AD8D-7D7B619130D2"`)), want: ErrMalformed},
		{name: "uid_braced", tok: signHS256(hdr, claimsWith("uid", `"uid":"{c8edb87c-c114-4284-ad8d-7d7b619130d2}"`)), want: ErrMalformed},
		{name: "uid_escaped", tok: signHS256(hdr, claimsWith("uid", `"uid":"c8edb87c\u002dc114-4284-ad8d-7d7b619130d2"`)), want: ErrMalformed},
		{name: "ruid_number", tok: signHS256(hdr, claimsWith("ruid", `"ruid":7`)), want: ErrMalformed},
		{name: "extra_claim", tok: signHS256(hdr, claimsWith("", `"admin":true`)), want: ErrMalformed},
		{name: "extra_registered_claim", tok: signHS256(hdr, claimsWith("", `"iat":1604592761`)), want: ErrMalformed},
		{name: "duplicate_exp", tok: signHS256(hdr, claimsWith("", expJSON)), want: ErrMalformed},
		{name: "duplicate_user_id", tok: signHS256(hdr, claimsWith("", `"user_id":1`)), want: ErrMalformed},
		{name: "duplicate_uid", tok: signHS256(hdr, claimsWith("", uidJSON)), want: ErrMalformed},
		{name: "escaped_key", tok: signHS256(hdr, claimsWith("exp", `"\u0065xp":1604596361`)), want: ErrMalformed},
		{name: "trailing_data", tok: signHS256(hdr, claimsWith("")+"{}"), want: ErrMalformed},
		{name: "trailing_comma", tok: signHS256(hdr, strings.TrimSuffix(claimsWith(""), "}")+",}"), want: ErrMalformed},
		{name: "claims_array", tok: signHS256(hdr, "["+claimsWith("")+"]"), want: ErrMalformed},
		{name: "claims_truncated", tok: signHS256(hdr, strings.TrimSuffix(claimsWith(""), "}")), want: ErrMalformed},
		{name: "empty", tok: "", want: ErrMalformed},
		{name: "two_parts", tok: parts[0] + "." + parts[1], want: ErrMalformed},
		{name: "four_parts", tok: valid + "." + parts[2], want: ErrMalformed},
		{name: "empty_header", tok: "." + parts[1] + "." + parts[2], want: ErrMalformed},
		{name: "bad_base64_char", tok: parts[0] + "." + parts[1][:10] + "!" + parts[1][11:] + "." + parts[2], want: ErrMalformed},
		{name: "bad_base64_length", tok: parts[0] + "." + parts[1] + "A." + parts[2], want: ErrMalformed},
		{name: "padded", tok: parts[0] + "." + parts[1] + "." + parts[2] + "=", want: ErrMalformed},
		{name: "std_base64", tok: parts[0] + "." + parts[1] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(parts[2]), want: ErrMalformed},
		{name: "newline_in_signature", tok: parts[0] + "." + parts[1] + "." + parts[2][:20] + "\n" + parts[2][20:], want: ErrMalformed},
		{name: "bearer_prefix", tok: "Bearer " + valid, want: ErrMalformed},
		{name: "max_size_garbage", tok: strings.Repeat("a", MaxSize), want: ErrMalformed},
		{name: "too_large", tok: strings.Repeat("a", MaxSize+1), want: ErrTooLarge},
		{name: "too_large_valid_prefix", tok: valid + strings.Repeat(".", MaxSize+1-len(valid)), want: ErrTooLarge},
		{name: "exp_beyond_ttl", tok: signHS256(hdr, claimsWith("exp", `"exp":1704596361`)), want: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := i.Verify(tt.tok, testNow)
			if !errors.Is(err, tt.want) || got != (Claims{}) {
				t.Errorf("Verify(%.80q) = %+v, %v; want zero claims, %v", tt.tok, got, err, tt.want)
			}
		})
	}
}

func TestVerifyTimeWindow(t *testing.T) {
	t.Parallel()
	i := newTestIssuer(t)
	now := time.Unix(1_700_000_000, 0)
	half := now.Add(500 * time.Millisecond)
	const ttl, leeway = int64(testTTL / time.Second), int64(testLeeway / time.Second)
	t0 := now.Unix()
	tests := []struct {
		name      string
		now       time.Time
		exp       int64
		want      error
		wantClaim bool // claims returned with the error
	}{
		{name: "fresh", now: now, exp: t0 + ttl},
		{name: "future_within_leeway", now: now, exp: t0 + ttl + leeway},
		{name: "future_beyond_leeway", now: now, exp: t0 + ttl + leeway + 1, want: ErrMalformed},
		{name: "far_future", now: now, exp: 1 << 62, want: ErrMalformed},
		{name: "about_to_expire", now: now, exp: t0 + 1},
		{name: "expired_within_leeway", now: now, exp: t0 - leeway + 1},
		{name: "exp_is_now", now: now, exp: t0},
		{name: "expired_at_leeway", now: now, exp: t0 - leeway, want: ErrExpired, wantClaim: true},
		{name: "expired_long_ago", now: now, exp: 0, want: ErrExpired, wantClaim: true},
		{name: "half_second_expired", now: half, exp: t0 - leeway, want: ErrExpired, wantClaim: true},
		{name: "half_second_within_leeway", now: half, exp: t0 - leeway + 1},
		{name: "half_second_future_ok", now: half, exp: t0 + ttl + leeway},
		{name: "half_second_future_beyond", now: half, exp: t0 + ttl + leeway + 1, want: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := seedClaims385
			c.Exp = tt.exp
			tok, err := i.Issue(c)
			if err != nil {
				t.Fatalf("Issue(%+v): %v", c, err)
			}
			got, err := i.Verify(tok, tt.now)
			want := c
			if tt.want != nil && !tt.wantClaim {
				want = Claims{}
			}
			if !errors.Is(err, tt.want) || got != want {
				t.Errorf("Verify(exp %d) at %v = %+v, %v; want %+v, %v", tt.exp, tt.now.Unix(), got, err, want, tt.want)
			}
		})
	}
}

func BenchmarkIssue(b *testing.B) {
	i := newTestIssuer(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := i.Issue(seedClaims385); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	i := newTestIssuer(b)
	tok, err := i.Issue(seedClaims385)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := i.Verify(tok, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyForged measures what an unauthenticated client costs us.
func BenchmarkVerifyForged(b *testing.B) {
	i := newTestIssuer(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := i.Verify(seedToken385, testNow); !errors.Is(err, ErrSignature) {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyParallel(b *testing.B) {
	i := newTestIssuer(b)
	tok, err := i.Issue(seedClaims385)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := i.Verify(tok, testNow); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
