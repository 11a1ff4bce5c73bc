package auth

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/google/uuid"
)

const (
	sessionA = "0b5c3a1e-6f7d-4c2b-9a8e-1d2c3b4a5f60"
	sessionB = "7e9f0a1b-2c3d-4e5f-8a9b-0c1d2e3f4a5b"
)

func keysOf(b byte) sessionKeys { return newSessionKeys(bytes.Repeat([]byte{b}, 32)) }

// derivation is one (key, session, generation) input of the derivations.
type derivation struct {
	key     byte
	session string
	gen     int64
}

var derivations = []derivation{
	{1, sessionA, 0}, {1, sessionA, 1}, {1, sessionA, 2}, {1, sessionB, 0},
	{1, sessionB, 1}, {2, sessionA, 0}, {2, sessionA, 1}, {2, sessionB, 0},
}

func TestAccessID(t *testing.T) {
	t.Parallel()
	seen := map[string]derivation{}
	for _, d := range derivations {
		k := keysOf(d.key)
		id := k.accessID(d.session, d.gen)
		u, err := uuid.Parse(id)
		if err != nil || u.Version() != 4 || u.Variant() != uuid.RFC4122 || u.String() != id {
			t.Errorf("accessID(%+v) = %q: not a canonical UUID v4 (parse error %v)", d, id, err)
		}
		if again := k.accessID(d.session, d.gen); again != id {
			t.Errorf("accessID(%+v) = %q then %q, want deterministic", d, id, again)
		}
		if prev, ok := seen[id]; ok {
			t.Errorf("accessID(%+v) = accessID(%+v) = %q, want distinct", d, prev, id)
		}
		seen[id] = d
	}
}

func TestCSRFSecret(t *testing.T) {
	t.Parallel()
	seen := map[string]derivation{}
	for _, d := range derivations {
		k := keysOf(d.key)
		s := k.csrfSecret(d.session, d.gen)
		if len(s) != 32 {
			t.Errorf("csrfSecret(%+v) is %d bytes, want 32", d, len(s))
		}
		if again := k.csrfSecret(d.session, d.gen); !bytes.Equal(again, s) {
			t.Errorf("csrfSecret(%+v) = %x then %x, want deterministic", d, s, again)
		}
		if prev, ok := seen[string(s)]; ok {
			t.Errorf("csrfSecret(%+v) = csrfSecret(%+v), want distinct", d, prev)
		}
		seen[string(s)] = d
	}
}

// The purposes are domain-separated: no derived value doubles as another.
func TestDerivationsDomainSeparated(t *testing.T) {
	t.Parallel()
	k := keysOf(1)
	uid := k.derive("uid", sessionA, 0)
	csrf := k.csrfSecret(sessionA, 0)
	ref := k.derive("refresh", sessionA, 0)
	if bytes.Equal(uid, csrf) || bytes.Equal(csrf, ref) || bytes.Equal(uid, ref) {
		t.Errorf("derive(uid|csrf|refresh, %q, 0) share a value", sessionA)
	}
	// The derivation key is not the signing key itself.
	if bytes.Equal(k.key, bytes.Repeat([]byte{1}, 32)) {
		t.Error("newSessionKeys(key).key = key, want a derived key")
	}
}

func TestRefreshTokenRoundTrip(t *testing.T) {
	t.Parallel()
	for _, d := range append(derivations, derivation{1, sessionA, 1<<63 - 1}) {
		k := keysOf(d.key)
		tok := k.refreshToken(d.session, d.gen)
		id, gen, ok := k.parseRefreshToken(tok)
		if !ok || id != d.session || gen != d.gen {
			t.Errorf("parseRefreshToken(refreshToken(%+v)) = %q, %d, %t; want %q, %d, true", d, id, gen, ok, d.session, d.gen)
		}
	}
}

func TestParseRefreshTokenRejects(t *testing.T) {
	t.Parallel()
	k := keysOf(1)
	valid := k.refreshToken(sessionA, 7)
	enc := base64.RawURLEncoding.EncodeToString
	id := enc([]byte(sessionA))
	mac := func(session string, gen int64) string { return enc(k.derive("refresh", session, gen)) }
	join := func(parts ...string) string { return strings.Join(parts, ".") }
	tests := []struct {
		name string
		tok  string
	}{
		{"Empty", ""},
		{"PrefixOnly", "v1."},
		{"NoPrefix", strings.TrimPrefix(valid, "v1.")},
		{"OtherVersion", "v2." + strings.TrimPrefix(valid, "v1.")},
		{"UpperCasePrefix", "V1." + strings.TrimPrefix(valid, "v1.")},
		{"OtherSession", join("v1", enc([]byte(sessionB)), "7", mac(sessionA, 7))},
		{"OtherGen", join("v1", id, "8", mac(sessionA, 7))},
		{"PlusGen", join("v1", id, "+7", mac(sessionA, 7))},
		{"LeadingZeroGen", join("v1", id, "07", mac(sessionA, 7))},
		{"NegativeGenValidMAC", join("v1", id, "-1", mac(sessionA, -1))},
		{"MinusZeroGen", join("v1", id, "-0", mac(sessionA, 0))},
		{"OverflowGen", join("v1", id, "9223372036854775808", mac(sessionA, 7))},
		{"HexGen", join("v1", id, "0x7", mac(sessionA, 7))},
		{"EmptyGen", join("v1", id, "", mac(sessionA, 7))},
		{"EmptySession", join("v1", "", "7", mac(sessionA, 7))},
		{"MACChanged", valid[:len(valid)-10] + flipSpareBit(valid[len(valid)-10:len(valid)-9]) + valid[len(valid)-9:]},
		{"MACTruncated", valid[:len(valid)-1]},
		{"MACExtended", valid + "A"},
		{"MACPadded", valid + "="},
		{"MACStdAlphabet", join("v1", id, "7", base64.RawStdEncoding.EncodeToString(k.derive("refresh", sessionA, 7)))},
		{"MACOfOtherPurpose", join("v1", id, "7", enc(k.derive("csrf", sessionA, 7)))},
		// Alternative spellings of the same bytes: a token is accepted in
		// exactly one form, so it cannot be altered and stay valid.
		{"MACSpareBits", flipSpareBit(valid)},
		{"NewlineInSession", join("v1", id[:8]+"\n"+id[8:], "7", mac(sessionA, 7))},
		{"CRLFInMAC", join("v1", id, "7", mac(sessionA, 7)[:10]+"\r\n"+mac(sessionA, 7)[10:])},
		{"ExtraDot", valid + "."},
		{"ExtraPart", valid + ".AAAA"},
		{"DoubledDot", strings.Replace(valid, ".", "..", 1)},
		{"MissingPart", join("v1", id, mac(sessionA, 7))},
		{"LeadingSpace", " " + valid},
		{"TrailingSpace", valid + " "},
		{"Huge", valid + strings.Repeat("A", 1<<20)},
		{"HugeGen", join("v1", id, strings.Repeat("9", 300), mac(sessionA, 7))},
		{"OtherKey", keysOf(2).refreshToken(sessionA, 7)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.tok == valid {
				t.Fatalf("test case %s does not change the token", tt.name)
			}
			if id, gen, ok := k.parseRefreshToken(tt.tok); ok {
				t.Errorf("parseRefreshToken(%.80q) = %q, %d, true; want !ok", tt.tok, id, gen)
			}
		})
	}
}

// flipSpareBit changes the last character of s to the one that differs
// only in the lowest bit. The last character of 32 bytes in unpadded
// base64 carries 4 bits of data and 2 spare bits, so both spellings decode
// to the same bytes unless the decoder is strict.
func flipSpareBit(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[i^1])
}
