package httpapi

import (
	"strings"
	"testing"
)

// TestRequestStructs: every request struct decodes. stringFields panics on
// a field that is not a string or has no json tag, so a struct that breaks
// the rule fails here rather than on its first request.
func TestRequestStructs(t *testing.T) {
	t.Parallel()
	for _, dst := range []any{
		&signInRequest{}, &registerRequest{}, &changePasswordRequest{},
		&forgotPasswordRequest{}, &resetPasswordRequest{},
		&confirmEmailRequest{}, &changeEmailRequest{},
	} {
		if err := decodeJSON([]byte(`{"email":"a@b.co"}`), dst); err != nil {
			t.Errorf("decodeJSON into %T: %v", dst, err)
		}
	}
}

// TestLastField: the Authorization header's token is the piece
// strings.Fields would end with, whatever the whitespace around it.
func TestLastField(t *testing.T) {
	t.Parallel()
	for _, h := range []string{
		"", " ", "a.b.c", "Bearer a.b.c", "Bearer  a.b.c ", "Bearer\ta.b.c\n",
		"Bearer\u00a0a.b.c", "Bearer\u2003a.b.c\u3000", "x\xffa.b.c", "Bearer a.b.c\xff",
		"a.b.c\u0085", "\u00e9 a.b.c", "Bearer a.b.\u00e9", "\v\fa.b.c\r", "Bearer a.b.c\u00a0 ",
	} {
		checkLastField(t, h)
	}
}

// FuzzLastField: lastField agrees with strings.Fields on any header.
func FuzzLastField(f *testing.F) {
	f.Add("Bearer a.b.c")
	f.Add("Bearer\u2003a.b.c\u3000")
	f.Add("x\xffa.b.c ")
	f.Fuzz(checkLastField)
}

func checkLastField(t *testing.T, h string) {
	f := strings.Fields(h)
	want := ""
	if len(f) > 0 {
		want = f[len(f)-1]
	}
	if got := lastField(h); got != want {
		t.Errorf("lastField(%q) = %q, want %q", h, got, want)
	}
}
