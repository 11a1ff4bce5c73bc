package password

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestDummyHashUsesParams(t *testing.T) {
	t.Parallel()
	p := Params{Memory: 96, Time: 2, Threads: 2, SaltLen: 24, KeyLen: 40}
	h := NewHasher(p)
	dummy, err := parsePHC(h.dummy)
	if err != nil {
		t.Fatalf("parsePHC(dummy %q): %v", h.dummy, err)
	}
	// DummyVerify only costs as much as a real Verify if the dummy hash was
	// made with the same parameters as real hashes.
	if dummy.params != p {
		t.Errorf("dummy hash params = %+v, want %+v", dummy.params, p)
	}
}

func TestPHCRoundTrip(t *testing.T) {
	t.Parallel()
	p := Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
	salt := bytes.Repeat([]byte{0xA5}, 16)
	key := bytes.Repeat([]byte{0x5A}, 32)
	encoded := encodePHC(p, salt, key)
	got, err := parsePHC(encoded)
	if err != nil {
		t.Fatalf("parsePHC(%q): %v", encoded, err)
	}
	if got.params != p || !bytes.Equal(got.salt, salt) || !bytes.Equal(got.key, key) {
		t.Errorf("parsePHC(%q) = %+v, want params %+v salt %x key %x", encoded, got, p, salt, key)
	}
}

// FuzzVerify feeds arbitrary stored hashes and passwords to the parsers and
// Verify. They must never panic, must report only ErrMalformedHash, and a
// string that parses must be exactly what encodePHC would write for it.
func FuzzVerify(f *testing.F) {
	h := NewHasher(Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	valid, err := h.Hash("hunter2")
	if err != nil {
		f.Fatal(err)
	}
	seeds := []struct{ encoded, password string }{
		{valid, "hunter2"},
		{valid, "wrong"},
		{"$argon2id$v=19$m=64,t=1,p=1$Z2F0ZWhvdXNlLXNhbHQwMQ$4MrhsIUx0QIhG3CITRPBTb29N03h9A2Awf18UR7gdeI", "correct horse battery staple"},
		{"$argon2id$v=19$m=256,t=3,p=2$c2FsdHNhbHRzYWx0$uiWsTq5TW8fOCY7Wx04JVQ", "hunter2"},
		{"$2y$04$PwRTHGMYz1N6.PePxas7n.ze1vsGE1rxUITeUpAl3WJfYeuaMvizi", "correct horse battery staple"},
		{"$argon2id$v=18$m=64,t=1,p=1$c2FsdHNhbHQ$AAAA", "x"},
		{"$argon2id$v=19$m=1048577,t=1,p=1$c2FsdHNhbHQ$AAAA", "x"},
		{"", ""},
		{"$", "$"},
	}
	for _, s := range seeds {
		f.Add(s.encoded, s.password)
	}

	f.Fuzz(func(t *testing.T, encoded, password string) {
		_ = h.NeedsRehash(encoded)

		stored, perr := parsePHC(encoded)
		if perr == nil {
			if again := encodePHC(stored.params, stored.salt, stored.key); again != encoded {
				t.Fatalf("encodePHC(parsePHC(%q)) = %q", encoded, again)
			}
		}
		// Only run the real KDFs when they are cheap; the production bounds
		// still allow 1 GiB, which would stall the fuzzer, not find bugs.
		if len(encoded) >= 200 || !cheap(encoded, stored, perr) {
			return
		}
		ok, err := h.Verify(password, encoded)
		if err != nil && (ok || !errors.Is(err, ErrMalformedHash)) {
			t.Fatalf("Verify(%q, %q) = %v, %v, want false and ErrMalformedHash on error", password, encoded, ok, err)
		}
	})
}

// cheap reports whether verifying encoded would take well under a
// millisecond.
func cheap(encoded string, stored phc, parseErr error) bool {
	if isBcrypt(encoded) {
		return checkBcrypt(encoded) != nil || encoded[4:6] == "04"
	}
	if parseErr != nil {
		return true // Verify will fail before hashing
	}
	p := stored.params
	return p.Memory <= 1024 && p.Time <= 4
}

// TestPaceEnvelope: the floor is the slowest class's envelope, which rises
// at once, sinks by 1/16 of the gap per faster verification, and is
// capped, so one stall does not slow every failure for good.
func TestPaceEnvelope(t *testing.T) {
	const argon, bcrypt12 = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$a2V5", "$2b$12$abcdefghijklmnopqrstuv"
	ms := time.Millisecond
	steps := []struct {
		encoded string
		took    time.Duration
		want    time.Duration
	}{
		{argon, 35 * ms, 35 * ms},
		{argon, 19 * ms, 34 * ms}, // 35 - (35-19)/16
		{bcrypt12, 255 * ms, 255 * ms},
		{argon, 100 * ms, 255 * ms}, // another class's stall does not lower it
		{bcrypt12, 95 * ms, 245 * ms},
		{bcrypt12, 10 * time.Second, maxFailureFloor},
	}
	var p pace
	for i, s := range steps {
		p.observe(s.encoded, s.took)
		if p.floor != s.want {
			t.Errorf("step %d: observe(%s, %v): floor %v, want %v", i, CostClass(s.encoded), s.took, p.floor, s.want)
		}
	}
}
