// Package jwtsessions speaks the Redis store of the Ruby gem jwt_sessions
// (versions 2.5 to 3.x), which the Rails app Gatehouse replaces kept its
// sessions in. It reads that store's sessions for the import (Source) and,
// while the move is under way, writes the gem's access records for the
// tokens Gatehouse issues (Bridge), so that Rails services still calling
// the gem's authorize_access_request! keep accepting them. It depends on
// auth; auth knows nothing of it.
//
// The format, from the gem's lib/jwt_sessions/store_adapters/redis_store_adapter.rb,
// refresh_token.rb, access_token.rb and csrf_token.rb:
//   - access record: key "<prefix>_access_<uid>", a string holding the
//     session's CSRF secret (CSRFToken#encoded: SecureRandom.base64(32), 44
//     characters), set with SET and then EXPIREAT the access token's exp
//     (persist_access);
//   - refresh record: key "<prefix>_<namespace>_refresh_<ruid>", a hash of
//     csrf, access_uid, access_expiration and expiration (integer Unix
//     seconds), EXPIREAT expiration (persist_refresh); fetch_refresh treats
//     a hash missing any of the four as absent.
//
// The default prefix is "jwt_" (JWTSessions.token_prefix), so the keys read
// "jwt__access_<uid>" and, without a namespace, "jwt___refresh_<ruid>".
package jwtsessions

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse/internal/csrf"
)

// DefaultPrefix is the gem's default token_prefix.
const DefaultPrefix = "jwt_"

// DefaultNamespace is the namespace apps conventionally give each user's
// sessions (JWTSessions::Session.new(namespace: "user_#{user.id}")).
const DefaultNamespace = "user_{id}"

// accessKey is the key of the access record of access token uid.
func accessKey(prefix, uid string) string { return prefix + "_access_" + uid }

// refreshMarker separates a refresh key's namespace from its ruid.
const refreshMarker = "_refresh_"

// encodeCSRF is a CSRF secret as the gem stores it.
func encodeCSRF(secret []byte) string { return base64.StdEncoding.EncodeToString(secret) }

// decodeCSRF reads a CSRF secret as the gem stores it: strict base64 of
// csrf.SecretSize bytes (CSRFToken#raw_token uses strict_decode64).
func decodeCSRF(s string) ([]byte, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != csrf.SecretSize {
		return nil, fmt.Errorf("csrf is not base64 of %d bytes", csrf.SecretSize)
	}
	return b, nil
}

// Namespace maps the gem's refresh-record namespaces to user ids: the
// records hold no user id, so the app's convention ("user_{id}") is
// configuration.
type Namespace struct {
	before, after string // around "{id}"
}

// ParseNamespace reads a namespace template holding "{id}" once.
func ParseNamespace(tmpl string) (Namespace, error) {
	before, after, ok := strings.Cut(tmpl, "{id}")
	if !ok || strings.Contains(after, "{id}") {
		return Namespace{}, fmt.Errorf("jwtsessions: namespace %q must hold {id} exactly once", tmpl)
	}
	if strings.Contains(tmpl, refreshMarker) {
		return Namespace{}, fmt.Errorf("jwtsessions: namespace %q must not contain %q", tmpl, refreshMarker)
	}
	return Namespace{before: before, after: after}, nil
}

// userID returns the user id a namespace names, or false.
func (n Namespace) userID(ns string) (string, bool) {
	id, ok := strings.CutPrefix(ns, n.before)
	if !ok {
		return "", false
	}
	id, ok = strings.CutSuffix(id, n.after)
	return id, ok && id != ""
}

// refreshPattern is the SCAN pattern of every refresh record in prefix's
// namespaces of the form n.
func (n Namespace) refreshPattern(prefix string) string {
	return globEscape(prefix+"_"+n.before) + "*" + globEscape(n.after+refreshMarker) + "*"
}

func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
