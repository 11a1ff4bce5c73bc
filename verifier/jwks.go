package verifier

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

// minRefetch bounds how often a token naming an unknown key makes the
// verifier fetch the JWKS again: forged kids must not turn into a flood
// of requests to Gatehouse.
const minRefetch = 10 * time.Second

// jwks holds Gatehouse's public keys by kid.
type jwks struct {
	cfg       Config
	mu        sync.Mutex
	keys      map[string]jose.JSONWebKey
	lastFetch time.Time
}

func newJWKS(cfg Config) *jwks { return &jwks{cfg: cfg, keys: map[string]jose.JSONWebKey{}} }

// key returns the public key kid names, fetching the set again (rate
// limited) when kid is unknown: a key published since the last refresh.
func (k *jwks) key(kid, alg string) (any, error) {
	k.mu.Lock()
	key, ok := k.keys[kid]
	refetch := !ok && kid != "" && k.cfg.Now().Sub(k.lastFetch) >= minRefetch
	if refetch {
		k.lastFetch = k.cfg.Now()
	}
	k.mu.Unlock()
	if refetch {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		k.refresh(ctx)
		cancel()
		k.mu.Lock()
		key, ok = k.keys[kid]
		k.mu.Unlock()
	}
	if !ok || kid == "" {
		return nil, fmt.Errorf("unknown key %q", kid)
	}
	// The header's algorithm must be the key's: no token can choose how
	// its key is used.
	if key.Algorithm != alg {
		return nil, jwt.ErrTokenSignatureInvalid
	}
	return key.Key, nil
}

func (k *jwks) refreshEvery(ctx context.Context, every time.Duration) {
	for {
		k.refresh(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// refresh replaces the keys with Gatehouse's current set; on failure the
// keys known stay. The fetch happens outside the lock, so requests with
// known keys never wait for it.
func (k *jwks) refresh(ctx context.Context) {
	keys, err := k.fetch(ctx)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.lastFetch = k.cfg.Now()
	if err != nil {
		k.cfg.Logger.Warn("verifier: fetching the JWKS", "err", err)
		return
	}
	k.keys = keys
}

func (k *jwks) fetch(ctx context.Context) (map[string]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.cfg.URL+"/.well-known/jwks.json", nil)
	if err != nil {
		return nil, err
	}
	resp, err := k.cfg.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, err
	}
	keys := make(map[string]jose.JSONWebKey, len(set.Keys))
	for _, key := range set.Keys {
		if key.IsPublic() && key.Valid() {
			keys[key.KeyID] = key
		}
	}
	return keys, nil
}
