package password_test

import (
	"crypto/rand"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/password"
)

func TestIsCommon(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		pw   string
		want bool
	}{
		{name: "password", pw: "password", want: true},
		{name: "digits", pw: "123456", want: true},
		{name: "keyboard_row", pw: "qwerty", want: true},
		{name: "mixed_case", pw: "PassWord", want: true},
		{name: "upper_case", pw: "ILOVEYOU", want: true},
		{name: "leetspeak", pw: "passw0rd", want: true},
		{name: "last_entry", pw: "geekboy", want: true},
		{name: "empty", pw: "", want: false},
		{name: "surrounding_space", pw: " password ", want: false},
		{name: "random", pw: rand.Text() + rand.Text(), want: false},
		{name: "passphrase", pw: "correct horse battery staple", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := password.IsCommon(tt.pw); got != tt.want {
				t.Errorf("IsCommon(%q) = %v, want %v", tt.pw, got, tt.want)
			}
		})
	}
}

func TestCommonCount(t *testing.T) {
	t.Parallel()
	if n := password.CommonCount(); n < 10000 {
		t.Errorf("CommonCount() = %d, want >= 10000", n)
	}
}

func BenchmarkIsCommon(b *testing.B) {
	password.IsCommon("") // build the set outside the timed loop
	long := strings.Repeat("Tr0ub4dor&3", 6)
	b.ReportAllocs()
	for b.Loop() {
		password.IsCommon("PassWord")
		password.IsCommon(long)
	}
}
