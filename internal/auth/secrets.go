package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// sessionKeys derives the per-generation secrets of a session: the access
// token's uid, the CSRF secret and the refresh token. Deriving instead of
// storing means (1) the database never holds a bearer secret, and (2) every
// node, and every loser of a refresh race, can reproduce exactly what the
// winner issued for a generation, which is what the grace window promises.
type sessionKeys struct {
	key []byte
}

// newSessionKeys domain-separates the derivation key from the JWT signing
// key, so neither output can stand in for the other.
func newSessionKeys(signingKey []byte) sessionKeys {
	return sessionKeys{key: mac(signingKey, "gatehouse/session-derivation/v1")}
}

func mac(key []byte, parts ...string) []byte {
	h := hmac.New(sha256.New, key)
	for _, p := range parts {
		// Length-prefix every part: no two part lists hash alike.
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return h.Sum(nil)
}

func (k sessionKeys) derive(purpose, sessionID string, gen int64) []byte {
	return mac(k.key, purpose, sessionID, strconv.FormatInt(gen, 10))
}

// accessID is the uid claim of the access token of generation gen: a
// UUID v4 in form, unpredictable without the key.
func (k sessionKeys) accessID(sessionID string, gen int64) string {
	var u uuid.UUID
	copy(u[:], k.derive("uid", sessionID, gen))
	u[6] = (u[6] & 0x0f) | 0x40 // version 4
	u[8] = (u[8] & 0x3f) | 0x80 // RFC 4122 variant
	return u.String()
}

// csrfSecret is the 32-byte CSRF secret of generation gen.
func (k sessionKeys) csrfSecret(sessionID string, gen int64) []byte {
	return k.derive("csrf", sessionID, gen)
}

const refreshPrefix = "v1."

// refreshToken is the opaque refresh token of generation gen:
// "v1." + base64url(sessionID) + "." + gen + "." + base64url(mac).
func (k sessionKeys) refreshToken(sessionID string, gen int64) string {
	return refreshPrefix +
		base64.RawURLEncoding.EncodeToString([]byte(sessionID)) + "." +
		strconv.FormatInt(gen, 10) + "." +
		base64.RawURLEncoding.EncodeToString(k.derive("refresh", sessionID, gen))
}

// parseRefreshToken checks the MAC of a refresh token and returns the
// session and generation it was issued for.
func (k sessionKeys) parseRefreshToken(tok string) (sessionID string, gen int64, ok bool) {
	if len(tok) > 256 || !strings.HasPrefix(tok, refreshPrefix) {
		return "", 0, false
	}
	parts := strings.Split(tok[len(refreshPrefix):], ".")
	if len(parts) != 3 {
		return "", 0, false
	}
	id, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return "", 0, false
	}
	g, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || g < 0 || strconv.FormatInt(g, 10) != parts[1] {
		return "", 0, false
	}
	// Compare the whole token with the one we would issue, not the decoded
	// MAC: Go's base64 decoders skip CR and LF and ignore the spare bits of
	// the last character, so comparing decoded bytes would accept many
	// spellings of one token. Exactly one is valid.
	want := k.refreshToken(string(id), g)
	if subtle.ConstantTimeCompare([]byte(tok), []byte(want)) != 1 {
		return "", 0, false
	}
	return string(id), g, true
}
