package token

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestParseClaimsSeed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		tok  string
		want Claims
	}{
		{name: "sign_in", tok: seedToken385, want: seedClaims385},
		{name: "sign_out", tok: seedToken386, want: Claims{
			Exp:    1604596361,
			UserID: 386,
			UID:    "df042938-283d-4666-81e3-191f86493d8d",
			RUID:   "d0cd7c6b-072e-4177-8341-a5caf1bc40ca",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			parts := strings.Split(tt.tok, ".")
			if parts[0] != hs256Header {
				t.Errorf("seed header segment = %q, want %q", parts[0], hs256Header)
			}
			got, err := parseClaims(mustDecode(t, parts[1]))
			if err != nil || got != tt.want {
				t.Errorf("parseClaims(seed payload) = %+v, %v; want %+v, nil", got, err, tt.want)
			}
		})
	}
}

func TestNewUID(t *testing.T) {
	t.Parallel()
	a, b := NewUID(), NewUID()
	for _, u := range []string{a, b} {
		if !isUUID(u) || u[14] != '4' || !strings.ContainsRune("89ab", rune(u[19])) {
			t.Errorf("NewUID() = %q, want a canonical lowercase v4 UUID", u)
		}
	}
	if a == b {
		t.Errorf("NewUID() twice = %q, want different values", a)
	}
}

// FuzzParseClaims compares the claims decoder with encoding/json: whatever
// it accepts must mean the same to encoding/json, so no two parsers in the
// system can read a token differently.
func FuzzParseClaims(f *testing.F) {
	f.Add([]byte(claimsWith("")))
	f.Add([]byte(claimsWith("", expJSON)))
	f.Add([]byte(`{"exp":1.5,"user_id":"1","uid":null,"ruid":[]}`))
	f.Add([]byte(`{"\u0065xp":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseClaims(b)
		if err != nil {
			if c != (Claims{}) {
				t.Fatalf("parseClaims(%q) = %+v with error %v, want zero claims", b, c, err)
			}
			return
		}
		if c.UserID <= 0 || c.Exp < 0 || !isUUID(c.UID) || !isUUID(c.RUID) {
			t.Fatalf("parseClaims(%q) = %+v, want valid claims", b, c)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil || len(m) != 4 {
			t.Fatalf("parseClaims(%q) accepted what encoding/json reads as %v, %v", b, m, err)
		}
		var std Claims
		d := json.NewDecoder(bytes.NewReader(b))
		d.DisallowUnknownFields()
		if err := d.Decode(&std); err != nil || std != c {
			t.Fatalf("parseClaims(%q) = %+v; encoding/json = %+v, %v", b, c, std, err)
		}
	})
}

func BenchmarkParseClaims(b *testing.B) {
	payload := []byte(claimsWith(""))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseClaims(payload); err != nil {
			b.Fatal(err)
		}
	}
}
