package password

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// b64 is the PHC string encoding. Strict rejects non-zero trailing bits, so
// every salt and key has exactly one spelling and a parsed hash re-encodes
// to the same string.
var b64 = base64.RawStdEncoding.Strict()

// phc is a parsed argon2id PHC string. SaltLen and KeyLen in params are the
// lengths actually stored, not the configured ones.
type phc struct {
	params Params
	salt   []byte
	key    []byte
}

// encodePHC formats an argon2id hash the way the reference implementation
// does: $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<key>.
func encodePHC(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// parsePHC parses exactly the form encodePHC writes. It is strict (fixed
// field order, no optional fields, canonical numbers) because anything else
// in our own table means corruption, and because the parameters it returns
// decide how much memory Verify allocates. Errors wrap ErrMalformedHash and
// name the bad field but never echo the hash, which should stay out of logs.
func parsePHC(s string) (phc, error) {
	fields := strings.Split(s, "$")
	if len(fields) != 6 || fields[0] != "" {
		return phc{}, malformed("want 5 $-separated fields")
	}
	if fields[1] != "argon2id" {
		return phc{}, malformed("algorithm is not argon2id")
	}
	if fields[2] != "v=19" {
		return phc{}, malformed("version is not v=19")
	}
	p, err := parseCost(fields[3])
	if err != nil {
		return phc{}, err
	}
	salt, err := decodeField("salt", fields[4], maxSaltLen)
	if err != nil {
		return phc{}, err
	}
	key, err := decodeField("key", fields[5], maxKeyLen)
	if err != nil {
		return phc{}, err
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	if err := p.validate(); err != nil {
		return phc{}, malformed(err.Error())
	}
	return phc{params: p, salt: salt, key: key}, nil
}

// parseCost parses "m=<KiB>,t=<passes>,p=<lanes>" in that order.
func parseCost(s string) (Params, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return Params{}, malformed("want m, t and p parameters")
	}
	var vals [3]uint32
	for i, name := range []string{"m=", "t=", "p="} {
		digits, ok := strings.CutPrefix(parts[i], name)
		if !ok {
			return Params{}, malformed("want parameters in order m, t, p")
		}
		v, err := parseDecimal(digits)
		if err != nil {
			return Params{}, malformed("parameter " + name[:1] + " is not a canonical decimal")
		}
		vals[i] = v
	}
	if vals[2] > maxThreads {
		// Checked here because the uint8 conversion below would wrap.
		return Params{}, malformed("parameter p too large")
	}
	return Params{Memory: vals[0], Time: vals[1], Threads: uint8(vals[2])}, nil
}

// parseDecimal accepts only what PHC allows: digits, no sign, no leading
// zeros.
func parseDecimal(s string) (uint32, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') || strings.TrimLeft(s, "0123456789") != "" {
		return 0, strconv.ErrSyntax
	}
	v, err := strconv.ParseUint(s, 10, 32)
	return uint32(v), err
}

// decodeField decodes one base64 field, refusing to even decode one longer
// than max bytes.
func decodeField(name, s string, max int) ([]byte, error) {
	if len(s) > b64.EncodedLen(max) {
		return nil, malformed(name + " too long")
	}
	// The decoder skips CR and LF even in strict mode; refuse them so a hash
	// has exactly one spelling.
	b, err := b64.DecodeString(s)
	if err != nil || strings.ContainsAny(s, "\r\n") {
		return nil, malformed(name + " is not unpadded standard base64")
	}
	return b, nil
}

func malformed(why string) error {
	return fmt.Errorf("%w: %s", ErrMalformedHash, why)
}
