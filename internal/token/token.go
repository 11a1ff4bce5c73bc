// Package token issues and verifies the access-token JWTs of the Ruby gem
// jwt_sessions, byte for byte: header {"alg":"HS256"}, claims exp, user_id,
// uid, ruid in that order. Clients written for the Rails API keep working, and
// tokens issued by either side verify on the other with the same key. An
// Issuer holds a ring of keys (SetKeys): one signs, all verify; besides
// HS256 it signs EdDSA and ES256 tokens with a kid, whose public keys it
// publishes as a JWKS.
package token

import (
	"errors"

	"github.com/google/uuid"
)

// MaxSize is the largest token Verify looks at. Ours are about 200 bytes; the
// limit bounds the work an unauthenticated client can make us do.
const MaxSize = 4096

// Errors returned by Verify. Compare with errors.Is.
var (
	// ErrMalformed: not a token we could have issued (structure, encoding,
	// header, claims, or an exp beyond now + ttl + leeway).
	ErrMalformed = errors.New("token: malformed")
	// ErrTooLarge: longer than MaxSize; nothing was parsed.
	ErrTooLarge = errors.New("token: too large")
	// ErrSignature: well formed but not signed with our key.
	ErrSignature = errors.New("token: invalid signature")
	// ErrExpired: correctly signed and well formed, but past exp (+ leeway).
	// Verify returns the claims with it, for refresh.
	ErrExpired = errors.New("token: expired")
)

// Claims are the access-token claims of the jwt_sessions gem, in its order.
// The field order is the wire order: Issue marshals them as declared.
type Claims struct {
	Exp    int64  `json:"exp"`     // Unix seconds
	UserID int64  `json:"user_id"` // positive
	UID    string `json:"uid"`     // UUID of this access token
	RUID   string `json:"ruid"`    // UUID of the session
}

// NewUID returns a random (version 4) UUID in canonical lowercase form, as
// the gem's SecureRandom.uuid does; used for uid and ruid.
func NewUID() string {
	return uuid.NewString()
}
