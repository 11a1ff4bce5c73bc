package authtest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/keyring"
)

// RunKeyringStoreTests runs the keyring.Store contract against a backend;
// newStore is as for RunStoreTests.
func RunKeyringStoreTests(t *testing.T, newStore func(t *testing.T) keyring.Store) {
	t.Helper()
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, st keyring.Store)
	}{
		{"Empty", testSigningKeysEmpty},
		{"RoundTrip", testSigningKeysRoundTrip},
		{"FailedUpdateChangesNothing", testSigningKeysFailedUpdate},
		{"ConcurrentUpdates", testSigningKeysConcurrent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newStore(t))
		})
	}
}

func testSigningKeysEmpty(t *testing.T, st keyring.Store) {
	recs, err := st.SigningKeys(t.Context())
	if err != nil || len(recs) != 0 {
		t.Errorf("SigningKeys() on a new store = %v, %v; want none, nil", recs, err)
	}
}

func keyRecord(id string, created time.Time) keyring.Record {
	return keyring.Record{ID: id, Alg: "EdDSA", State: keyring.Published, Sealed: []byte("sealed " + id), CreatedAt: created}
}

func testSigningKeysRoundTrip(t *testing.T, st keyring.Store) {
	ctx := t.Context()
	root := keyring.Record{ID: "root", Alg: "HS256", State: keyring.Retired, CreatedAt: t0, ActivatedAt: t0, RetiredAt: t0.Add(time.Hour)}
	k1 := keyRecord("k1", t0.Add(time.Minute))
	k1.State, k1.ActivatedAt = keyring.Active, t0.Add(time.Hour)
	want := []keyring.Record{root, k1}
	if err := st.UpdateSigningKeys(ctx, func(got []keyring.Record) ([]keyring.Record, error) { return want, nil }); err != nil {
		t.Fatalf("UpdateSigningKeys(root, k1) = %v", err)
	}
	got, err := st.SigningKeys(ctx)
	if err != nil {
		t.Fatalf("SigningKeys() = %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SigningKeys() after an update differs (-want +got):\n%s", diff)
	}
	// Removing by leaving out.
	if err := st.UpdateSigningKeys(ctx, func(got []keyring.Record) ([]keyring.Record, error) { return got[1:], nil }); err != nil {
		t.Fatalf("UpdateSigningKeys(drop root) = %v", err)
	}
	if got, _ := st.SigningKeys(ctx); len(got) != 1 || got[0].ID != "k1" {
		t.Errorf("SigningKeys() after dropping root = %v, want k1 alone", got)
	}
}

func testSigningKeysFailedUpdate(t *testing.T, st keyring.Store) {
	ctx := t.Context()
	if err := st.UpdateSigningKeys(ctx, func([]keyring.Record) ([]keyring.Record, error) {
		return []keyring.Record{keyRecord("k1", t0)}, nil
	}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := st.UpdateSigningKeys(ctx, func([]keyring.Record) ([]keyring.Record, error) { return nil, boom })
	if !errors.Is(err, boom) {
		t.Errorf("UpdateSigningKeys(fn failing) = %v, want fn's error", err)
	}
	if got, _ := st.SigningKeys(ctx); len(got) != 1 {
		t.Errorf("SigningKeys() after a failed update = %v, want k1 unchanged", got)
	}
}

// Every update sees the previous one's result: none is lost.
func testSigningKeysConcurrent(t *testing.T, st keyring.Store) {
	ctx := t.Context()
	const n = 8
	errs := make([]error, n)
	Concurrently(n, func(i int) {
		errs[i] = st.UpdateSigningKeys(ctx, func(recs []keyring.Record) ([]keyring.Record, error) {
			return append(recs, keyRecord(fmt.Sprintf("k%d", i), t0.Add(time.Duration(i)))), nil
		})
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("UpdateSigningKeys in goroutine %d = %v", i, err)
		}
	}
	if got, _ := st.SigningKeys(ctx); len(got) != n {
		t.Errorf("SigningKeys() after %d concurrent appends = %d records, want %d", n, len(got), n)
	}
}
