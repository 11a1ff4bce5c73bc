package password_test

import (
	"encoding/base64"
	"fmt"
	"testing"

	"github.com/gatehouse/gatehouse/internal/password"
	"golang.org/x/crypto/argon2"
)

// TestVerifyKnownAnswer checks that Verify reads the standard PHC format:
// a string assembled by hand from argon2.IDKey, and strings written by the
// reference C implementation, must all verify.
func TestVerifyKnownAnswer(t *testing.T) {
	t.Parallel()
	salt := []byte("gatehouse-salt01")
	key := argon2.IDKey([]byte("correct horse battery staple"), salt, 1, 64, 1, 32)
	handMade := fmt.Sprintf("$argon2id$v=19$m=64,t=1,p=1$%s$%s",
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))

	tests := []struct {
		name     string
		password string
		encoded  string
	}{
		{name: "hand_made", password: "correct horse battery staple", encoded: handMade},
		// echo -n 'correct horse battery staple' | argon2 gatehouse-salt01 -id -t 1 -k 64 -p 1 -l 32 -e
		// (Debian argon2 0~20171227, the reference implementation). The
		// same inputs as hand_made, so the two strings must be equal too.
		{
			name:     "reference_cli",
			password: "correct horse battery staple",
			encoded:  "$argon2id$v=19$m=64,t=1,p=1$Z2F0ZWhvdXNlLXNhbHQwMQ$4MrhsIUx0QIhG3CITRPBTb29N03h9A2Awf18UR7gdeI",
		},
		// echo -n hunter2 | argon2 saltsaltsalt -id -t 3 -k 256 -p 2 -l 16 -e
		// Two lanes, a 12-byte salt and a 16-byte key.
		{
			name:     "reference_cli_two_lanes",
			password: "hunter2",
			encoded:  "$argon2id$v=19$m=256,t=3,p=2$c2FsdHNhbHRzYWx0$uiWsTq5TW8fOCY7Wx04JVQ",
		},
	}
	h := password.NewHasher(tinyParams())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if ok, err := h.Verify(tt.password, tt.encoded); !ok || err != nil {
				t.Errorf("Verify(%q, %q) = %v, %v, want true, nil", tt.password, tt.encoded, ok, err)
			}
			if ok, err := h.Verify(tt.password+"!", tt.encoded); ok || err != nil {
				t.Errorf("Verify(%q, %q) = %v, %v, want false, nil", tt.password+"!", tt.encoded, ok, err)
			}
		})
	}
	if handMade != tests[1].encoded {
		t.Errorf("hand-made PHC string = %q, want the reference CLI's %q", handMade, tests[1].encoded)
	}
}
