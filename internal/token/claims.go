package token

import (
	"math"
	"strings"
	"unicode/utf8"
)

// The decoders below accept a strict subset of JSON: exactly the members we
// expect, each once, with the JSON type we expect. encoding/json cannot
// reject duplicate keys (the last one silently wins, while another parser,
// such as the gem's, may keep the first and read a different token), so
// they are hand-written; they also keep Verify at one allocation.

// hs256Header is base64url({"alg":"HS256"}), the header the gem writes and
// Issue writes. Verify compares it as a string and parses anything else.
const hs256Header = "eyJhbGciOiJIUzI1NiJ9"

// scanner is a cursor over one JSON text.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) skipSpace() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// consume skips white space and then c, reporting whether c was there.
func (s *scanner) consume(c byte) bool {
	s.skipSpace()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// end reports whether only white space is left.
func (s *scanner) end() bool {
	s.skipSpace()
	return s.i == len(s.b)
}

// str scans a JSON string and returns its raw (still escaped) contents and
// whether it contained an escape. Escapes are validated, not decoded: every
// value we compare (alg, typ, UUIDs) is plain ASCII, so an escaped spelling
// of it is rejected rather than normalised.
func (s *scanner) str() (raw []byte, escaped, ok bool) {
	if !s.consume('"') {
		return nil, false, false
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			raw = s.b[start:s.i]
			s.i++
			return raw, escaped, true
		case c < 0x20:
			return nil, false, false
		case c == '\\':
			escaped = true
			if !s.escape() {
				return nil, false, false
			}
		default:
			s.i++
		}
	}
	return nil, false, false
}

// escape consumes one escape sequence starting at the backslash.
func (s *scanner) escape() bool {
	s.i++
	if s.i >= len(s.b) {
		return false
	}
	switch s.b[s.i] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		s.i++
		return true
	case 'u':
		if s.i+4 >= len(s.b) {
			return false
		}
		for _, h := range s.b[s.i+1 : s.i+5] {
			if !isHex(h) {
				return false
			}
		}
		s.i += 5
		return true
	}
	return false
}

// key scans an object member name and its colon. Escaped names are
// refused so that duplicates can be detected by comparing bytes.
func (s *scanner) key() ([]byte, bool) {
	k, escaped, ok := s.str()
	if !ok || escaped || !s.consume(':') {
		return nil, false
	}
	return k, true
}

// uint scans a non-negative JSON integer: no sign, fraction, exponent or
// leading zero. The gem (Ruby Integer) never writes anything else, and a
// float exp would be a second spelling of the same instant.
func (s *scanner) uint() (int64, bool) {
	s.skipSpace()
	start := s.i
	var v int64
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		d := int64(s.b[s.i] - '0')
		if v > (math.MaxInt64-d)/10 {
			return 0, false
		}
		v = v*10 + d
		s.i++
	}
	n := s.i - start
	if n == 0 || (n > 1 && s.b[start] == '0') {
		return 0, false
	}
	if s.i < len(s.b) {
		switch s.b[s.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	return v, true
}

// members calls member for each name of the object that makes up all of
// s, stopping at the first false. An empty object has no members.
func (s *scanner) members(member func(name []byte) bool) bool {
	if !s.consume('{') {
		return false
	}
	if s.consume('}') {
		return s.end()
	}
	for {
		k, ok := s.key()
		if !ok || !member(k) {
			return false
		}
		if s.consume(',') {
			continue
		}
		return s.consume('}') && s.end()
	}
}

// Bits of the members seen, to refuse duplicates and missing claims.
const (
	seenExp = 1 << iota
	seenUserID
	seenUID
	seenRUID
	seenAllClaims = seenExp | seenUserID | seenUID | seenRUID
)

const (
	seenAlg = 1 << iota
	seenTyp
	seenKid
)

// parseClaims decodes a claims set strictly: the four claims, once each,
// with their types; anything else is ErrMalformed.
func parseClaims(b []byte) (Claims, error) {
	var (
		c    Claims
		seen int
		ids  [2 * uuidLen]byte // uid ‖ ruid, to allocate both strings at once
	)
	s := scanner{b: b}
	ok := s.members(func(name []byte) bool {
		var bit int
		var ok bool
		switch string(name) {
		case "exp":
			bit = seenExp
			c.Exp, ok = s.uint()
		case "user_id":
			bit = seenUserID
			c.UserID, ok = s.uint()
			ok = ok && c.UserID > 0
		case "uid":
			bit = seenUID
			ok = s.uuid(ids[:uuidLen])
		case "ruid":
			bit = seenRUID
			ok = s.uuid(ids[uuidLen:])
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	})
	if !ok || seen != seenAllClaims {
		return Claims{}, ErrMalformed
	}
	both := string(ids[:])
	c.UID, c.RUID = both[:uuidLen], both[uuidLen:]
	return c, nil
}

// uuid scans a string holding a canonical UUID and copies it into dst. No
// other string, escaped or not, is a canonical UUID, so this need not scan
// a general string first.
func (s *scanner) uuid(dst []byte) bool {
	if !s.consume('"') {
		return false
	}
	end := s.i + uuidLen
	if end >= len(s.b) || s.b[end] != '"' || !isUUID(s.b[s.i:end]) {
		return false
	}
	copy(dst, s.b[s.i:end])
	s.i = end + 1
	return true
}

// parseHeader decodes a JOSE header and returns its algorithm and kid.
// Members are allow-listed: alg must be HS256, EdDSA or ES256, typ (which
// other libraries add) must be JWT, kid is a string (required for EdDSA
// and ES256, whose key it names; an escaped one names none of ours).
// Everything else is refused, notably crit (extensions we would have to
// understand) and jku, jwk, x5u, x5c (keys chosen by the sender).
func parseHeader(b []byte) (alg string, kid []byte, ok bool) {
	if !utf8.Valid(b) {
		return "", nil, false
	}
	var seen int
	s := scanner{b: b}
	ok = s.members(func(name []byte) bool {
		var bit int
		var ok bool
		v, escaped, isStr := s.str()
		switch string(name) {
		case "alg":
			bit, ok = seenAlg, isStr && !escaped
			switch string(v) {
			case HS256:
				alg = HS256
			case EdDSA:
				alg = EdDSA
			case ES256:
				alg = ES256
			default:
				ok = false
			}
		case "typ":
			bit, ok = seenTyp, isStr && !escaped && strings.EqualFold(string(v), "JWT")
		case "kid":
			bit, ok = seenKid, isStr
			if !escaped {
				kid = v
			}
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	}) && seen&seenAlg != 0 && (alg == HS256 || seen&seenKid != 0)
	return alg, kid, ok
}

const uuidLen = 36

// isUUID reports whether b is a UUID in canonical lowercase form. The
// version is not checked: the gem writes v4, but nothing depends on it.
func isUUID[T string | []byte](b T) bool {
	if len(b) != uuidLen {
		return false
	}
	const hyphens = 1<<8 | 1<<13 | 1<<18 | 1<<23
	for i := range uuidLen {
		if hyphens>>i&1 == 1 {
			if b[i] != '-' {
				return false
			}
		} else if !isLowerHex(b[i]) {
			return false
		}
	}
	return true
}

func isLowerHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f'
}

func isHex(c byte) bool {
	return isLowerHex(c) || 'A' <= c && c <= 'F'
}
