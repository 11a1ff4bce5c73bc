// Package keyring keeps the ring of access-token signing keys: several
// keys with ids, one active per algorithm, stored in the database sealed
// under a key derived from the root secret, so that a copy of the database
// alone cannot sign anything. The root secret itself is the implicit HS256
// key "root" (the seed's format, and the key of tokens the Rails app
// issued); it also derives every session secret (package auth) and so
// never rotates through the ring.
//
// A key's life: Add (published: verifies everywhere and appears in the
// JWKS, signs nowhere) → Activate, no sooner than PublishDelay after Add
// (signs; the key it replaces is retired) → retired (verifies until it is
// removed) → Remove, no sooner than the longest a token of it can still
// be presented after it stopped signing.
package keyring

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/seal"
	"github.com/gatehouse/gatehouse/internal/token"
)

// The states of a key.
const (
	Published = "published"
	Active    = "active"
	Retired   = "retired"
)

// Timing of publication. Nodes reload the ring every ReloadInterval and
// verifiers may cache the JWKS for JWKSMaxAge, so a key added now is known
// everywhere after PublishDelay; only then may it sign.
const (
	ReloadInterval = 10 * time.Second
	JWKSMaxAge     = 5 * time.Minute
	PublishDelay   = JWKSMaxAge + 2*ReloadInterval
)

// Record is one row of the ring as stored. Sealed is the key material
// sealed with AES-256-GCM (nonce ‖ ciphertext), bound to ID and Alg; the
// root key's row has none (its material is the root secret).
type Record struct {
	ID          string
	Alg         string
	State       string
	Sealed      []byte
	CreatedAt   time.Time
	ActivatedAt time.Time // zero: never
	RetiredAt   time.Time // zero: not retired
}

// Store keeps the ring's records. No rows at all means the seed's ring:
// the root key alone, active.
type Store interface {
	// SigningKeys returns every record, oldest first.
	SigningKeys(ctx context.Context) ([]Record, error)
	// UpdateSigningKeys replaces the records with what fn returns for the
	// current ones, in one transaction that excludes every other update:
	// of two concurrent activations, the second sees the first's result.
	UpdateSigningKeys(ctx context.Context, fn func([]Record) ([]Record, error)) error
}

// Ring reads and changes the key ring of one store under one root secret.
type Ring struct {
	store Store
	root  []byte
	box   *seal.Box
	now   func() time.Time
}

// New returns the Ring of store under root (at least token.MinKeySize
// bytes). now is the clock; nil means time.Now.
func New(store Store, root []byte, now func() time.Time) (*Ring, error) {
	if len(root) < token.MinKeySize {
		return nil, fmt.Errorf("keyring: root secret is %d bytes, need at least %d", len(root), token.MinKeySize)
	}
	if now == nil {
		now = time.Now
	}
	box, err := seal.New(root, "gatehouse/keyring-seal/v1")
	if err != nil {
		return nil, err
	}
	return &Ring{store: store, root: append([]byte(nil), root...), box: box, now: now}, nil
}

// ErrWrongRoot means a sealed key does not open: the root secret is not
// the one that sealed it (or the row was altered).
var ErrWrongRoot = errors.New("keyring: a sealed signing key does not open with this root secret (was --secret changed, or the key file replaced?)")

// aad binds a sealed key to its id and algorithm, so that sealed material
// moved to another row (by someone who can write the database) opens
// nowhere.
func aad(id, alg string) []byte { return []byte("gatehouse keyring v1\x00" + id + "\x00" + alg) }

func (r *Ring) seal(k token.Key) []byte {
	return r.box.Seal(k.Material, aad(k.ID, k.Alg))
}

func (r *Ring) open(rec Record) (token.Key, error) {
	if rec.ID == token.RootKeyID {
		return token.Key{ID: rec.ID, Alg: token.HS256, Material: r.root}, nil
	}
	material, err := r.box.Open(rec.Sealed, aad(rec.ID, rec.Alg))
	if err != nil {
		return token.Key{}, fmt.Errorf("keyring: key %q: %w", rec.ID, ErrWrongRoot)
	}
	return token.Key{ID: rec.ID, Alg: rec.Alg, Material: material}, nil
}

// seedRing is the ring of a store with no rows.
func (r *Ring) seedRing() []Record {
	return []Record{{ID: token.RootKeyID, Alg: token.HS256, State: Active}}
}

// List returns the ring's records, the implicit root key included.
func (r *Ring) List(ctx context.Context) ([]Record, error) {
	recs, err := r.store.SigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return r.seedRing(), nil
	}
	return recs, nil
}

// ErrNoActiveKey: the ring has no active key of the algorithm asked for.
var ErrNoActiveKey = errors.New("keyring: no active key for this algorithm")

// Load returns every key of the ring (opened) and the id of the active
// key of alg, which signs.
func (r *Ring) Load(ctx context.Context, alg string) (keys []token.Key, signer string, err error) {
	recs, err := r.List(ctx)
	if err != nil {
		return nil, "", err
	}
	return r.keys(recs, alg)
}

func (r *Ring) keys(recs []Record, alg string) (keys []token.Key, signer string, err error) {
	for _, rec := range recs {
		k, err := r.open(rec)
		if err != nil {
			return nil, "", err
		}
		keys = append(keys, k)
		if rec.State == Active && rec.Alg == alg {
			signer = rec.ID
		}
	}
	if signer == "" {
		return nil, "", fmt.Errorf("%w %s", ErrNoActiveKey, alg)
	}
	return keys, signer, nil
}

// update runs fn on the ring's records, the seed's implicit root row made
// explicit, so that the first change keeps the root key as it was.
func (r *Ring) update(ctx context.Context, fn func([]Record) ([]Record, error)) error {
	return r.store.UpdateSigningKeys(ctx, func(recs []Record) ([]Record, error) {
		if len(recs) == 0 {
			recs = r.seedRing()
			recs[0].CreatedAt = r.now().UTC()
		}
		return fn(recs)
	})
}

func newID() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Add generates a key of alg and publishes it: from now on it verifies
// and appears in the JWKS; it signs once activated. With activate (a ring
// that has no active key of alg yet, so no node can be signing with one),
// it is active at once.
func (r *Ring) Add(ctx context.Context, alg string, activate bool) (Record, error) {
	k, err := token.GenerateKey(newID(), alg)
	if err != nil {
		return Record{}, err
	}
	return r.add(ctx, k, activate)
}

// Import publishes a key whose material the operator made (kept in a
// secret manager, or shared with services that verify HS256 tokens), as
// Add does with a generated one. The material must be what the algorithm
// needs (token.Key); the id is generated.
func (r *Ring) Import(ctx context.Context, alg string, material []byte) (Record, error) {
	k := token.Key{ID: newID(), Alg: alg, Material: material}
	if err := k.Check(); err != nil {
		return Record{}, err
	}
	return r.add(ctx, k, false)
}

func (r *Ring) add(ctx context.Context, k token.Key, activate bool) (Record, error) {
	alg := k.Alg
	now := r.now().UTC()
	rec := Record{ID: k.ID, Alg: alg, State: Published, Sealed: r.seal(k), CreatedAt: now}
	err := r.update(ctx, func(recs []Record) ([]Record, error) {
		if activate {
			for _, o := range recs {
				if o.State == Active && o.Alg == alg {
					return nil, fmt.Errorf("keyring: key %s already signs %s; add without activating, then activate after %v", o.ID, alg, PublishDelay)
				}
			}
			rec.State, rec.ActivatedAt = Active, now
		}
		return append(recs, rec), nil
	})
	return rec, err
}

// ErrNotFound: no key has that id.
var ErrNotFound = errors.New("keyring: no such key")

// change applies fn to the record called id.
func (r *Ring) change(ctx context.Context, id string, fn func(recs []Record, i int) ([]Record, error)) error {
	return r.update(ctx, func(recs []Record) ([]Record, error) {
		for i := range recs {
			if recs[i].ID == id {
				return fn(recs, i)
			}
		}
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	})
}

// Activate makes key id the signing key of its algorithm and retires the
// one it replaces. Unless force, the key must have been published for
// PublishDelay: a token it signs earlier may reach a node, or a service
// caching the JWKS, that does not know the key yet, and be refused.
func (r *Ring) Activate(ctx context.Context, id string, force bool) error {
	now := r.now().UTC()
	return r.change(ctx, id, func(recs []Record, i int) ([]Record, error) {
		k := &recs[i]
		switch {
		case k.State == Active:
			return recs, nil
		case !force && k.ID != token.RootKeyID && now.Sub(k.CreatedAt) < PublishDelay:
			return nil, fmt.Errorf("keyring: key %s was published %v ago; activate it after %v (when every node and JWKS cache knows it) or force", k.ID, now.Sub(k.CreatedAt).Round(time.Second), PublishDelay)
		}
		for j := range recs {
			if recs[j].State == Active && recs[j].Alg == k.Alg {
				recs[j].State, recs[j].RetiredAt = Retired, now
			}
		}
		k.State, k.ActivatedAt, k.RetiredAt = Active, now, time.Time{}
		return recs, nil
	})
}

// Retire stops key id from being chosen to sign; it still verifies until
// removed. The active key cannot be retired: activate another first, so
// that there is always a key to sign with.
func (r *Ring) Retire(ctx context.Context, id string) error {
	now := r.now().UTC()
	return r.change(ctx, id, func(recs []Record, i int) ([]Record, error) {
		switch recs[i].State {
		case Active:
			return nil, fmt.Errorf("keyring: key %s signs; activate another %s key first", id, recs[i].Alg)
		case Published:
			recs[i].State, recs[i].RetiredAt = Retired, now
		}
		return recs, nil
	})
}

// Remove deletes retired key id: its tokens stop verifying. Unless force,
// it must have been retired for at least keep, the longest a token it
// signed can still be presented (a refresh accepts an expired access
// token for as long as its session lives).
func (r *Ring) Remove(ctx context.Context, id string, keep time.Duration, force bool) error {
	now := r.now().UTC()
	return r.change(ctx, id, func(recs []Record, i int) ([]Record, error) {
		k := recs[i]
		switch {
		case k.State != Retired:
			return nil, fmt.Errorf("keyring: key %s is %s; retire it first", id, k.State)
		case !force && now.Sub(k.RetiredAt) < keep:
			return nil, fmt.Errorf("keyring: key %s was retired %v ago; tokens it signed may be presented for %v after that (or force)", id, now.Sub(k.RetiredAt).Round(time.Second), keep)
		}
		return append(recs[:i], recs[i+1:]...), nil
	})
}
