package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/keyring"
	"github.com/gatehouse/gatehouse/internal/token"
)

// keyState is a node's signing key ring: the issuer every request uses,
// and where it reloads from.
type keyState struct {
	tokens *token.Issuer
	ring   *keyring.Ring
	loaded string // fingerprint of the ring loaded last
}

// appKeys sets a's signing keys and returns the root secret. The admin
// commands (users, sessions) issue no token and derive no session secret,
// so they load no ring (nor generate a key for --token-alg), and on
// PostgreSQL without the root secret they run with a throwaway one rather
// than make every operator's shell hold the secret.
func appKeys(ctx context.Context, cfg *Config, store auth.Store, a *app, log *slog.Logger) ([]byte, error) {
	if cfg.issuesNoTokens && isPostgres(cfg.DB) && cfg.Secret == "" && cfg.SecretFile == "" {
		root := make([]byte, 32)
		rand.Read(root)
		iss, err := auth.NewIssuer(root, cfg.AccessTTL, cfg.MaxClockSkew)
		a.keys = keyState{tokens: iss}
		return root, err
	}
	root, err := rootSecret(ctx, cfg, store, log)
	if err != nil {
		return nil, err
	}
	if cfg.issuesNoTokens {
		iss, err := auth.NewIssuer(root, cfg.AccessTTL, cfg.MaxClockSkew)
		a.keys = keyState{tokens: iss}
		return root, err
	}
	a.keys, err = loadKeys(ctx, cfg, store, root, log)
	return root, err
}

// loadKeys loads the signing key ring under root, --token-alg's active
// key signing. A store without a ring (none in tests) signs with root.
// With EdDSA or ES256 and no active key of that algorithm yet, one is
// generated and activated at once: no node can be signing with that
// algorithm, so none can be missing the key (HS256 nodes learn it within
// keyring.ReloadInterval). Switching a running cluster is the documented
// add, wait, activate instead.
func loadKeys(ctx context.Context, cfg *Config, store auth.Store, root []byte, log *slog.Logger) (keyState, error) {
	iss, err := auth.NewIssuer(root, cfg.AccessTTL, cfg.MaxClockSkew)
	if err != nil {
		return keyState{}, err
	}
	ks := keyState{tokens: iss}
	rs, ok := store.(keyring.Store)
	if !ok {
		return ks, nil
	}
	if ks.ring, err = keyring.New(rs, root, nil); err != nil {
		return keyState{}, err
	}
	alg := cmp.Or(cfg.TokenAlg, token.HS256)
	ks.loaded, err = ks.ring.Apply(ctx, iss, alg)
	if errors.Is(err, keyring.ErrNoActiveKey) && alg != token.HS256 {
		rec, aerr := ks.ring.Add(ctx, alg, true)
		if aerr != nil {
			return keyState{}, fmt.Errorf("signing keys: %w", aerr)
		}
		log.Warn("generated and activated a signing key", "kid", rec.ID, "alg", alg)
		ks.loaded, err = ks.ring.Apply(ctx, iss, alg)
	}
	if err != nil {
		return keyState{}, fmt.Errorf("signing keys: %w", err)
	}
	return ks, nil
}

// followKeys reloads the ring every interval (keyring.ReloadInterval on a
// serving node) until the returned function is called: `gatehouse keys`
// changes reach a running node within that interval.
func (a *app) followKeys(alg string, interval time.Duration, log *slog.Logger) (stop func()) {
	if a.keys.ring == nil {
		return func() {}
	}
	alg, last := cmp.Or(alg, token.HS256), a.keys.loaded
	return every(interval, func(ctx context.Context) {
		last = a.keys.ring.Reload(ctx, a.keys.tokens, alg, last, log)
	})
}
