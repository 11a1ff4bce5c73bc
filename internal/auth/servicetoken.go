package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ServiceToken is the credential of a service, not a user: it lets a
// downstream service follow the revocation stream. Only the SHA-256 of the
// secret is stored. A slow hash (argon2id, as for passwords) would add
// nothing: the secret is 256 random bits, so no guess list exists to try
// against a stolen hash, and a fast hash keeps authenticating a stream
// connection cheap.
type ServiceToken struct {
	ID        int64
	Name      string
	CreatedAt time.Time
	RevokedAt time.Time // zero while the token works
}

// ServiceTokenStore keeps service tokens.
type ServiceTokenStore interface {
	// CreateServiceToken inserts t with the hash of its secret, setting
	// t.ID.
	CreateServiceToken(ctx context.Context, t *ServiceToken, hash []byte) error
	// ServiceTokenByHash returns the token whose secret hashes to hash,
	// revoked or not. ErrNotFound if none.
	ServiceTokenByHash(ctx context.Context, hash []byte) (*ServiceToken, error)
	// ListServiceTokens returns every token, revoked ones too, by ID.
	ListServiceTokens(ctx context.Context) ([]ServiceToken, error)
	// RevokeServiceToken revokes token id at at (a no-op if it already
	// is). ErrNotFound if absent.
	RevokeServiceToken(ctx context.Context, id int64, at time.Time) error
}

// serviceTokenPrefix marks Gatehouse service tokens, so that one pasted
// into a log or a repository is recognizable (and scannable) for what it is.
const serviceTokenPrefix = "ghst_"

// serviceTokenLen is the length of a token: the prefix and 32 random bytes
// in unpadded base64url.
var serviceTokenLen = len(serviceTokenPrefix) + base64.RawURLEncoding.EncodedLen(32)

// maxServiceTokenName bounds a name, in characters.
const maxServiceTokenName = 100

// CreateServiceToken issues a token named name and returns its secret,
// which is shown once and never stored.
func (s *Service) CreateServiceToken(ctx context.Context, name string) (string, *ServiceToken, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > maxServiceTokenName || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		const msg = "must be 1 to 100 characters without control characters"
		return "", nil, &Error{Code: CodeValidationFailed, Message: "Name " + msg, Details: map[string][]string{"name": {msg}}}
	}
	var raw [32]byte
	rand.Read(raw[:]) // never fails (crypto/rand)
	secret := serviceTokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	t := &ServiceToken{Name: name, CreatedAt: s.now()}
	hash := sha256.Sum256([]byte(secret))
	if err := s.store.CreateServiceToken(ctx, t, hash[:]); err != nil {
		return "", nil, err
	}
	return secret, t, nil
}

// ServiceTokens lists every service token, revoked ones too.
func (s *Service) ServiceTokens(ctx context.Context) ([]ServiceToken, error) {
	return s.store.ListServiceTokens(ctx)
}

// RevokeServiceToken revokes token id. Streams already open with it end at
// their next heartbeat.
func (s *Service) RevokeServiceToken(ctx context.Context, id int64) error {
	return s.store.RevokeServiceToken(ctx, id, s.now())
}

// AuthenticateService checks the service token a client presents,
// after taking one request from the client address's budget (as refresh
// does): the token's 256 random bits are what protect it, but no path
// that checks a secret runs outside the budgets.
func (s *Service) AuthenticateService(ctx context.Context, secret string, c Client) (*ServiceToken, error) {
	if err := s.limits.allowIP(ctx, "service", c.limitAddr()); err != nil {
		return nil, err
	}
	return s.ServiceTokenLive(ctx, secret)
}

// ServiceTokenLive returns the live service token whose secret is
// secret. Any other secret is ErrNotAuthorized, a store failure
// ErrUnavailable.
func (s *Service) ServiceTokenLive(ctx context.Context, secret string) (*ServiceToken, error) {
	if len(secret) != serviceTokenLen || !strings.HasPrefix(secret, serviceTokenPrefix) {
		return nil, ErrNotAuthorized
	}
	hash := sha256.Sum256([]byte(secret))
	// The lookup by hash is an index search, not a comparison of secrets:
	// its timing tells an attacker about hashes, which are useless to him.
	t, err := s.store.ServiceTokenByHash(ctx, hash[:])
	if err != nil {
		return nil, notAuthorized(err)
	}
	if !t.RevokedAt.IsZero() {
		return nil, ErrNotAuthorized
	}
	return t, nil
}
