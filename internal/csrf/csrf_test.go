package csrf

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// Values of the csrf field in the seed (auth-api.apib), masked by the gem.
var seedTokens = []string{
	"SkgU8rfPIWM4wBe4xEd81SHCE+3mAmEO9R7FSogXhSlZXAVhlyhVI73ttoeUvRjuRv2l9a6LWU0NjSmrfI7aZw==",
	"ZMxSXR2u9xZHKJQ35yYWjTt6GUaMCHaFFIAoGKw06ZBglu/2Ty2laH3kTKn6uG/drkuFvjGliTlrJ6x2XjbIBw==",
}

func TestSeedTokens(t *testing.T) {
	t.Parallel()
	for _, tok := range seedTokens {
		raw, err := base64.StdEncoding.DecodeString(tok)
		if len(tok) != 88 || err != nil || len(raw) != 64 {
			t.Errorf("seed %q: %d chars decode to %d bytes, %v; want 88 chars, 64 bytes", tok, len(tok), len(raw), err)
		}
		secret, err := Unmask(tok)
		if err != nil || len(secret) != SecretSize {
			t.Fatalf("Unmask(%q) = %x, %v; want %d bytes", tok, secret, err, SecretSize)
		}
		want := make([]byte, SecretSize)
		for i := range want {
			want[i] = raw[i] ^ raw[SecretSize+i]
		}
		if !bytes.Equal(secret, want) {
			t.Errorf("Unmask(%q) = %x, want pad XOR masked = %x", tok, secret, want)
		}
		if !Valid(tok, secret) || !Valid(Mask(secret), secret) {
			t.Errorf("Valid(%q or a fresh mask, its secret) = false, want true", tok)
		}
	}
}

func TestMask(t *testing.T) {
	t.Parallel()
	secret := NewSecret()
	a, b := Mask(secret), Mask(secret)
	for _, m := range []string{a, b} {
		if len(m) != 88 {
			t.Errorf("Mask(secret) = %q, %d chars; want 88", m, len(m))
		}
		if !Valid(m, secret) {
			t.Errorf("Valid(Mask(secret), secret) = false for %q, want true", m)
		}
		if got, err := Unmask(m); err != nil || !bytes.Equal(got, secret) {
			t.Errorf("Unmask(%q) = %x, %v; want %x, nil", m, got, err, secret)
		}
	}
	if a == b {
		t.Errorf("Mask(secret) twice = %q, want different pads", a)
	}
}

func TestMaskPanicsOnWrongSize(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 16, 31, 33, 64} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Mask(%d bytes) did not panic", n)
				}
			}()
			Mask(make([]byte, n))
		}()
	}
}

func TestNewSecret(t *testing.T) {
	t.Parallel()
	a, b := NewSecret(), NewSecret()
	if len(a) != SecretSize || len(b) != SecretSize || bytes.Equal(a, b) {
		t.Errorf("NewSecret() twice = %x, %x; want two different %d-byte secrets", a, b, SecretSize)
	}
}

func TestValid(t *testing.T) {
	t.Parallel()
	secret := bytes.Repeat([]byte{0xa5}, SecretSize)
	other := bytes.Repeat([]byte{0x5a}, SecretSize)
	masked := Mask(secret)
	unmasked := base64.StdEncoding.EncodeToString(secret)
	// The last data character of a 44-char token carries two spare bits;
	// setting one gives a second spelling of the same bytes.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	respelled := unmasked[:42] + string(alphabet[strings.IndexByte(alphabet, unmasked[42])^1]) + unmasked[43:]
	if b, err := base64.StdEncoding.DecodeString(respelled); err != nil || !bytes.Equal(b, secret) {
		t.Fatalf("respelled %q decodes to %x, %v; want %x", respelled, b, err, secret)
	}
	tests := []struct {
		name   string
		token  string
		secret []byte
		want   bool
	}{
		{name: "masked", token: masked, secret: secret, want: true},
		{name: "unmasked", token: unmasked, secret: secret, want: true},
		{name: "masked_wrong_secret", token: masked, secret: other},
		{name: "unmasked_wrong_secret", token: unmasked, secret: other},
		{name: "masked_one_bit_off", token: flipChar(masked, 50), secret: secret},
		{name: "unmasked_one_bit_off", token: flipChar(unmasked, 0), secret: secret},
		{name: "empty", token: "", secret: secret},
		{name: "empty_secret", token: masked},
		{name: "short_secret", token: masked, secret: secret[:31]},
		{name: "long_secret", token: masked, secret: append(secret[:32:32], 0)},
		{name: "garbage", token: "not a csrf token", secret: secret},
		{name: "garbage_88", token: strings.Repeat("!", 88), secret: secret},
		{name: "garbage_44", token: strings.Repeat("*", 44), secret: secret},
		{name: "url_alphabet", token: strings.NewReplacer("+", "-", "/", "_").Replace(masked), secret: secret, want: !strings.ContainsAny(masked, "+/")},
		{name: "unpadded", token: strings.TrimRight(masked, "="), secret: secret},
		{name: "spare_bits_set", token: respelled, secret: secret},
		{name: "newline", token: masked[:40] + "\n" + masked[41:], secret: secret},
		{name: "masked_twice", token: masked + masked, secret: secret},
		{name: "long", token: strings.Repeat("A", 1<<16), secret: secret},
		{name: "raw_secret", token: string(secret), secret: secret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Valid(tt.token, tt.secret); got != tt.want {
				t.Errorf("Valid(%.40q, %x) = %v, want %v", tt.token, tt.secret, got, tt.want)
			}
		})
	}
}

// flipChar replaces the base64 character at i with another one.
func flipChar(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

func TestUnmaskInvalid(t *testing.T) {
	t.Parallel()
	for _, tok := range []string{"", "=", strings.Repeat("A", 87), strings.Repeat("A", 89), strings.Repeat("A", 43) + "A", strings.Repeat("=", 88)} {
		if got, err := Unmask(tok); !errors.Is(err, ErrInvalid) || got != nil {
			t.Errorf("Unmask(%q) = %x, %v; want nil, ErrInvalid", tok, got, err)
		}
	}
}

func FuzzUnmask(f *testing.F) {
	for _, s := range append(seedTokens, "", "AAAA", strings.Repeat("A", 43)+"=", "\n", strings.Repeat("/", 88)) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		secret, err := Unmask(tok)
		if err != nil {
			if secret != nil || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Unmask(%q) = %x, %v; want nil, ErrInvalid", tok, secret, err)
			}
			return
		}
		if len(tok) != 88 && len(tok) != 44 || len(secret) != SecretSize {
			t.Fatalf("Unmask(%q) = %x, want only 88- or 44-char tokens to give %d bytes", tok, secret, SecretSize)
		}
		if !Valid(tok, secret) {
			t.Fatalf("Valid(%q, Unmask(it)) = false", tok)
		}
		if got := Mask(secret); !Valid(got, secret) {
			t.Fatalf("Valid(Mask(%x)) = false for %q", secret, got)
		}
	})
}

func FuzzValid(f *testing.F) {
	secret := bytes.Repeat([]byte{7}, SecretSize)
	f.Add(Mask(secret), secret)
	f.Add(base64.StdEncoding.EncodeToString(secret), secret)
	f.Add(seedTokens[0], []byte{})
	f.Add("", []byte("short"))
	f.Fuzz(func(t *testing.T, tok string, secret []byte) {
		got := Valid(tok, secret)
		u, err := Unmask(tok)
		if want := err == nil && bytes.Equal(u, secret); got != want {
			t.Fatalf("Valid(%q, %x) = %v, but Unmask gives %x, %v", tok, secret, got, u, err)
		}
	})
}

func BenchmarkMask(b *testing.B) {
	secret := NewSecret()
	b.ReportAllocs()
	for b.Loop() {
		Mask(secret)
	}
}

func BenchmarkValid(b *testing.B) {
	secret := NewSecret()
	tok := Mask(secret)
	b.ReportAllocs()
	for b.Loop() {
		if !Valid(tok, secret) {
			b.Fatal("not valid")
		}
	}
}
