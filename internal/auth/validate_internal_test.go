package auth

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValidEmail(t *testing.T) {
	t.Parallel()
	local64 := strings.Repeat("l", 64)
	// 64 + 1 + 189 = 254 bytes, every label within 63.
	domain189 := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 57) + ".com"
	tests := []struct {
		email string
		want  bool
	}{
		{"a@b.co", true},
		{"first.last+tag@sub.example.museum", true},
		{"o'hara@x.io", true},
		{"x_y-z!#$%&*/=?^`{|}~@ex-ample.org", true},
		{"a@b-c.d-e.fr", true},
		{"a@123.example.com", true},
		{local64 + "@b.co", true},
		{local64 + "@" + domain189, true},

		{"Ada <a@b.co>", false},
		{"<a@b.co>", false},
		{`"ada"@b.co`, false},
		{`"a b"@b.co`, false},
		{"(c)a@b.co", false},
		{"a(c)@b.co", false},
		{"a@b.co(c)", false},
		{"a@[192.0.2.1]", false},
		{"a@[ipv6:2001:db8::1]", false},
		{"a@192.0.2.1", false},
		{"a b@b.co", false},
		{"a@b .co", false},
		{"a@b.co ", false},
		{"\ta@b.co", false},
		{".a@b.co", false},
		{"a.@b.co", false},
		{"a..b@b.co", false},
		{"a@.b.co", false},
		{"a@b.co.", false},
		{"a@b..co", false},
		{"a@-b.co", false},
		{"a@b-.co", false},
		{"a@b.-co", false},
		{"a@b.123", false},
		{"a@b.c0", false},
		{"a@b.c", false},
		{"a@localhost", false},
		{"a@", false},
		{"@b.co", false},
		{"a", false},
		{"", false},
		{"a@b@c.co", false},
		{"a@b_c.co", false},
		{"ü@b.co", false},
		{"a@bücher.de", false},
		{"a@b.co\x00", false},
		{"a@b.co\n", false},
		{"a@" + strings.Repeat("x", 64) + ".co", false},
		{local64 + "l@b.co", false},
	}
	for _, tt := range tests {
		if got := validEmail(tt.email); got != tt.want {
			t.Errorf("validEmail(%q) = %t, want %t", tt.email, got, tt.want)
		}
	}
}

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"Ada@Example.COM", "ada@example.com"},
		{"  ada@example.com\t\n", "ada@example.com"},
		{"\u00a0ada@example.com\u2003", "ada@example.com"},
		{"ada@example.com", "ada@example.com"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := NormalizeEmail(tt.in); got != tt.want {
			t.Errorf("NormalizeEmail(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestValidationEmailMessages(t *testing.T) {
	t.Parallel()
	local64 := strings.Repeat("l", 64)
	domain190 := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 58) + ".com"
	tests := []struct {
		name, email string
		want        []string // details["email"]
	}{
		{"Valid", "a@b.co", nil},
		{"Blank", "", []string{"can't be blank"}},
		{"Invalid", "a@localhost", []string{"is invalid"}},
		{"TooLong255Bytes", local64 + "@" + domain190, []string{"is too long (maximum is 254 characters)"}},
	}
	for _, tt := range tests {
		var v validation
		v.email(tt.email)
		if d := cmp.Diff(v.details["email"], tt.want); d != "" {
			t.Errorf("%s: email(%.40q) details mismatch (-got +want):\n%s", tt.name, tt.email, d)
		}
	}
}

func TestValidationPassword(t *testing.T) {
	t.Parallel()
	const email = "katherine@example.com"
	tests := []struct {
		name, pw string
		min      int
		want     string // "" for valid, else the full message
	}{
		{"Valid", "plum-kettle-orbit-42", 8, ""},
		{"ExactlyMin", "zq8#vk2!", 8, ""},
		{"Blank", "", 8, "Password can't be blank"},
		{"OneShort", "zq8#vk2", 8, "Password is too short (minimum is 8 characters)"},
		// Length is in characters, not bytes: 4 runes, 12 bytes.
		{"ShortInRunes", "日本語字", 8, "Password is too short (minimum is 8 characters)"},
		{"EightRunes", "日本語字漢仮名交", 8, ""},
		{"ConfiguredMin", "plum-kettle-42", 15, "Password is too short (minimum is 15 characters)"},
		{"MaxChars", strings.Repeat("z", 256), 8, ""},
		{"OverMaxChars", strings.Repeat("z", 257), 8, "Password is too long (maximum is 256 characters)"},
		// 256 four-byte characters are exactly 1 KiB.
		{"MaxBytes", strings.Repeat("😀", 256), 8, ""},
		{"OverMaxBytes", strings.Repeat("😀", 257), 8, "Password is too long (maximum is 256 characters)"},
		{"NotTrimmed", "  zq8#vk2!  ", 8, ""},
		{"Common", "password1", 8, "Password is too common"},
		{"CommonAnyCase", "PassWord1", 8, "Password is too common"},
		{"Email", email, 8, "Password can't be your email address"},
		{"EmailOtherCase", "Katherine@Example.COM", 8, "Password can't be your email address"},
		{"LocalPart", "KATHERINE", 8, "Password can't be your email address"},
		{"ContainsLocalPart", "katherine-plum-42", 8, ""},
	}
	for _, tt := range tests {
		var v validation
		v.password(tt.pw, email, tt.min)
		got := ""
		if err := v.err(); err != nil {
			got = err.(*Error).Message
		}
		if got != tt.want {
			t.Errorf("%s: password(%.20q, %q, %d) = %q, want %q", tt.name, tt.pw, email, tt.min, got, tt.want)
		}
	}
}

func TestValidationConfirmation(t *testing.T) {
	t.Parallel()
	tests := []struct{ pw, confirmation, want string }{
		{"zq8#vk2!", "zq8#vk2!", ""},
		{"zq8#vk2!", "", "Password confirmation can't be blank"},
		{"zq8#vk2!", "zq8#vk2! ", "Password confirmation doesn't match Password"},
		{"zq8#vk2!", "ZQ8#VK2!", "Password confirmation doesn't match Password"},
	}
	for _, tt := range tests {
		var v validation
		v.confirmation(tt.pw, tt.confirmation)
		got := ""
		if err := v.err(); err != nil {
			got = err.(*Error).Message
		}
		if got != tt.want {
			t.Errorf("confirmation(%q, %q) = %q, want %q", tt.pw, tt.confirmation, got, tt.want)
		}
	}
}

// Full messages are joined with spaces in field order, and details hold the
// bare messages per field, as Rails' errors.full_messages and
// errors.messages do.
func TestValidationErr(t *testing.T) {
	t.Parallel()
	var v validation
	if err := v.err(); err != nil {
		t.Fatalf("empty validation.err() = %v, want nil", err)
	}
	v.email("not-an-email")
	v.password("short", "not-an-email", 8)
	v.confirmation("short", "shrt")
	err := v.err()
	want := &Error{
		Code:    CodeValidationFailed,
		Message: "Email is invalid Password is too short (minimum is 8 characters) Password confirmation doesn't match Password",
		Details: map[string][]string{
			"email":                 {"is invalid"},
			"password":              {"is too short (minimum is 8 characters)"},
			"password_confirmation": {"doesn't match Password"},
		},
	}
	var got *Error
	if !errors.As(err, &got) {
		t.Fatalf("validation.err() = %v, want *Error", err)
	}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("validation.err() mismatch (-got +want):\n%s", d)
	}
	if ErrorCode(err) != CodeValidationFailed {
		t.Errorf("ErrorCode(%v) = %q, want %q", err, ErrorCode(err), CodeValidationFailed)
	}
}
