package password_test

import (
	"errors"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/internal/password"
)

// TestCheckImported: the presets real apps write are accepted up to the
// import bounds, and nothing above them or that can never match.
func TestCheckImported(t *testing.T) {
	d, err := bcrypt.GenerateFromPassword([]byte("password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	const salt, key = "c2FsdHNhbHRzYWx0c2FsdA", "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"
	argon := func(cost string) string { return "$argon2id$v=19$" + cost + "$" + salt + "$" + key }
	tests := []struct {
		name    string
		encoded string
		ok      bool
	}{
		{"bcryptCost4", string(d), true},
		{"bcryptCost14", "$2b$14" + string(d[6:]), true},
		{"bcryptCost15", "$2b$15" + string(d[6:]), false},
		{"bcryptSpareBitsSet", string(d[:59]) + "/", false},
		{"gatehouseDefault", argon("m=19456,t=2,p=1"), true},
		{"phpDefault", argon("m=65536,t=4,p=1"), true},
		{"rfc9106Second", argon("m=65536,t=3,p=4"), true},
		{"rfc9106First", argon("m=2097152,t=1,p=4"), false},
		{"djangoDefault", argon("m=102400,t=2,p=8"), false},
		{"fivePasses", argon("m=19456,t=5,p=1"), false},
		{"sixteenLanes", argon("m=65536,t=1,p=16"), false},
		{"argon2i", "$argon2i$v=19$m=19456,t=2,p=1$" + salt + "$" + key, false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := password.CheckImported(tt.encoded)
			if tt.ok && err != nil || !tt.ok && !errors.Is(err, password.ErrMalformedHash) {
				t.Errorf("CheckImported(%.40q) = %v, want ok %v", tt.encoded, err, tt.ok)
			}
		})
	}
}
