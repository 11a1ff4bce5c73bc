package keyring

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/token"
)

// memStore is a Store in memory; the stores' contract suite is
// authtest.RunKeyringStoreTests.
type memStore struct {
	mu   sync.Mutex
	recs []Record
}

func (m *memStore) SigningKeys(context.Context) ([]Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.recs), nil
}

func (m *memStore) UpdateSigningKeys(_ context.Context, fn func([]Record) ([]Record, error)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	recs, err := fn(slices.Clone(m.recs))
	if err == nil {
		m.recs = recs
	}
	return err
}

var (
	root = bytes.Repeat([]byte("r"), 32)
	t0   = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newRing(t *testing.T, st Store, key []byte, c *clock) *Ring {
	t.Helper()
	r, err := New(st, key, c.now)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func states(t *testing.T, r *Ring) map[string]string {
	t.Helper()
	recs, err := r.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, rec := range recs {
		m[rec.ID] = rec.State
	}
	return m
}

func TestSeedRingIsRootAlone(t *testing.T) {
	r := newRing(t, &memStore{}, root, &clock{t0})
	keys, signer, err := r.Load(context.Background(), token.HS256)
	if err != nil || signer != token.RootKeyID || len(keys) != 1 || !bytes.Equal(keys[0].Material, root) {
		t.Errorf("Load(HS256) on an empty store = %v, %q, %v; want root alone, signing", keys, signer, err)
	}
	if _, _, err := r.Load(context.Background(), token.EdDSA); !errors.Is(err, ErrNoActiveKey) {
		t.Errorf("Load(EdDSA) on an empty store = %v, want ErrNoActiveKey", err)
	}
}

// TestRotationRules: activation waits for publication, the active key
// cannot be retired, removal waits for keep, and a rotation retires the
// key it replaces, which still verifies.
func TestRotationRules(t *testing.T) {
	ctx := context.Background()
	c := &clock{t0}
	r := newRing(t, &memStore{}, root, c)
	k, err := r.Add(ctx, token.HS256, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := states(t, r); got[token.RootKeyID] != Active || got[k.ID] != Published {
		t.Fatalf("after Add: %v, want root active, %s published", got, k.ID)
	}
	c.t = t0.Add(PublishDelay - time.Second)
	if err := r.Activate(ctx, k.ID, false); err == nil {
		t.Error("Activate before PublishDelay = nil, want refused")
	}
	c.t = t0.Add(PublishDelay)
	if err := r.Activate(ctx, k.ID, false); err != nil {
		t.Fatalf("Activate after PublishDelay = %v", err)
	}
	if got := states(t, r); got[token.RootKeyID] != Retired || got[k.ID] != Active {
		t.Errorf("after Activate: %v, want root retired, %s active", got, k.ID)
	}
	keys, signer, err := r.Load(ctx, token.HS256)
	if err != nil || signer != k.ID || len(keys) != 2 {
		t.Errorf("Load after rotation = %d keys, %q, %v; want 2 keys, %s signing", len(keys), signer, err, k.ID)
	}
	if err := r.Retire(ctx, k.ID); err == nil {
		t.Error("Retire(active key) = nil, want refused")
	}
	if err := r.Remove(ctx, k.ID, time.Hour, true); err == nil {
		t.Error("Remove(active key, force) = nil, want refused: retire it first")
	}
	const keep = 7 * 24 * time.Hour
	c.t = c.t.Add(keep - time.Second)
	if err := r.Remove(ctx, token.RootKeyID, keep, false); err == nil {
		t.Error("Remove(root) before keep = nil, want refused")
	}
	c.t = c.t.Add(time.Second)
	if err := r.Remove(ctx, token.RootKeyID, keep, false); err != nil {
		t.Errorf("Remove(root) after keep = %v", err)
	}
	if got := states(t, r); len(got) != 1 || got[k.ID] != Active {
		t.Errorf("after Remove(root): %v, want %s alone", got, k.ID)
	}
	if err := r.Activate(ctx, "nope", true); !errors.Is(err, ErrNotFound) {
		t.Errorf("Activate(unknown) = %v, want ErrNotFound", err)
	}
}

// TestOneActivePerAlgorithm: an EdDSA key signs beside root, and Add's
// immediate activation is for an algorithm nobody signs with yet.
func TestOneActivePerAlgorithm(t *testing.T) {
	ctx := context.Background()
	r := newRing(t, &memStore{}, root, &clock{t0})
	ed, err := r.Add(ctx, token.EdDSA, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Add(ctx, token.EdDSA, true); err == nil {
		t.Error("a second Add(EdDSA, activate) = nil, want refused: a key of that algorithm already signs")
	}
	for alg, want := range map[string]string{token.HS256: token.RootKeyID, token.EdDSA: ed.ID} {
		if _, signer, err := r.Load(ctx, alg); err != nil || signer != want {
			t.Errorf("Load(%s) signer = %q, %v; want %q", alg, signer, err, want)
		}
	}
}

// TestSealedKeysNeedTheRoot: the database alone opens nothing, and sealed
// material moved to another row does not open there either.
func TestSealedKeysNeedTheRoot(t *testing.T) {
	ctx := context.Background()
	st := &memStore{}
	c := &clock{t0}
	r := newRing(t, st, root, c)
	a, _ := r.Add(ctx, token.HS256, false)
	b, _ := r.Add(ctx, token.HS256, false)
	for _, rec := range st.recs {
		if rec.ID != token.RootKeyID && (len(rec.Sealed) == 0 || bytes.Contains(rec.Sealed, root)) {
			t.Errorf("record %s sealed = %x: want ciphertext", rec.ID, rec.Sealed)
		}
	}
	other := newRing(t, st, bytes.Repeat([]byte("o"), 32), c)
	if _, _, err := other.Load(ctx, token.HS256); !errors.Is(err, ErrWrongRoot) {
		t.Errorf("Load under another root = %v, want ErrWrongRoot", err)
	}

	for i := range st.recs {
		switch st.recs[i].ID {
		case a.ID:
			st.recs[i].Sealed = b.Sealed
		case b.ID:
			st.recs[i].Sealed = a.Sealed
		}
	}
	if _, _, err := r.Load(ctx, token.HS256); !errors.Is(err, ErrWrongRoot) {
		t.Errorf("Load with sealed material swapped between rows = %v, want ErrWrongRoot", err)
	}
}

func TestNewRejectsShortRoot(t *testing.T) {
	if _, err := New(&memStore{}, root[:31], nil); err == nil {
		t.Error("New(31-byte root) = nil error, want refused")
	}
}
