package authtest

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// ImportedStore is a store that takes imported sessions
// (auth.ImportedSessionStore).
type ImportedStore interface {
	auth.Store
	auth.ImportedSessionStore
}

// RunImportedSessionTests checks the store side of importing sessions
// with their secrets: the secrets round-trip on the session's row through
// every read and rotation, and MergeImportedSessions inserts, keeps and
// skips as its contract says, in one batch.
func RunImportedSessionTests(t *testing.T, newStore func(t *testing.T) ImportedStore) {
	t.Run("SecretsOnTheSession", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		ctx := t.Context()
		u, plain := mustCreateUser(t, st, "ada@example.com")
		if got, err := st.ImportedSecrets(ctx, []string{plain.ID, "absent"}); err != nil || len(got) != 0 {
			t.Errorf("ImportedSecrets(a session Gatehouse started, an absent one) = %v, %v; want none", got, err)
		}
		if got, err := st.Session(ctx, plain.ID); err != nil || got.Imported != nil {
			t.Errorf("Session(a session Gatehouse started) = %+v, %v; want Imported nil", got, err)
		}
		imp := newSession(u.ID, t0)
		imp.Imported = secrets("rails-uid", 'r')
		if err := st.ImportSessions(ctx, []auth.Session{*imp}); err != nil {
			t.Fatalf("ImportSessions = %v", err)
		}
		want := map[string]*auth.ImportedSecrets{imp.ID: imp.Imported}
		if got, err := st.ImportedSecrets(ctx, []string{plain.ID, imp.ID}); err != nil || !cmp.Equal(got, want) {
			t.Errorf("ImportedSecrets = %+v, %v; want %+v", got, err, want)
		}
		if got, err := st.Session(ctx, imp.ID); err != nil || !cmp.Equal(got.Imported, imp.Imported) {
			t.Errorf("Session().Imported = %+v, %v; want %+v", got.Imported, err, imp.Imported)
		}
		// Rotations keep them: a lagging change-log reader still names
		// generation 0's token; auth stops using them after the grace.
		for gen := range int64(2) {
			next, err := st.RotateSession(ctx, imp.ID, gen, t0.Add(time.Minute), t0.Add(time.Hour))
			if err != nil || !cmp.Equal(next.Imported, imp.Imported) {
				t.Errorf("RotateSession(gen %d).Imported = %+v, %v; want %+v", gen, next.Imported, err, imp.Imported)
			}
		}
		if list, err := st.ListSessions(ctx, u.ID, t0); err != nil || len(list) != 2 {
			t.Errorf("ListSessions = %d sessions, %v; want 2", len(list), err)
		}
	})
	t.Run("Merge", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		ctx := t.Context()
		u, _ := mustCreateUser(t, st, "ada@example.com")
		// Ids in order: the import sorts its batches by id.
		at := func(id string, userID, gen int64, sec *auth.ImportedSecrets) auth.Session {
			s := newSession(userID, t0)
			s.ID, s.Generation, s.Imported = id, gen, sec
			return *s
		}
		present0 := at("10000000-0000-4000-8000-000000000000", u.ID, 0, secrets("old-0", 'a'))
		present2 := at("20000000-0000-4000-8000-000000000000", u.ID, 2, secrets("old-2", 'b'))
		if err := st.ImportSessions(ctx, []auth.Session{present0, present2}); err != nil {
			t.Fatalf("ImportSessions = %v", err)
		}
		fresh := at("30000000-0000-4000-8000-000000000000", u.ID, 0, secrets("fresh", 'c'))
		batch := []auth.Session{
			at(present0.ID, u.ID, 0, secrets("new-0", 'd')),
			at(present2.ID, u.ID, 0, secrets("new-2", 'e')),
			fresh,
			at(fresh.ID, u.ID, 0, secrets("repeat", 'f')),
			at("40000000-0000-4000-8000-000000000000", u.ID+1000, 0, secrets("nobody", 'g')),
		}
		outcomes, err := st.MergeImportedSessions(ctx, batch)
		want := []auth.SessionImportOutcome{auth.SessionPresent, auth.SessionPresent, auth.SessionInserted,
			auth.SessionPresent, auth.SessionUserUnknown}
		if err != nil || !slices.Equal(outcomes, want) {
			t.Fatalf("MergeImportedSessions = %v, %v; want %v", outcomes, err, want)
		}
		wantSecrets := map[string]*auth.ImportedSecrets{
			present0.ID: batch[0].Imported, // at generation 0: replaced
			present2.ID: present2.Imported, // moved on: kept
			fresh.ID:    batch[3].Imported, // inserted, then replaced by its repeat
		}
		if got, err := st.ImportedSecrets(ctx, []string{present0.ID, present2.ID, fresh.ID, batch[4].ID}); err != nil || !cmp.Equal(got, wantSecrets) {
			t.Errorf("ImportedSecrets = %v (-got +want):\n%s", err, cmp.Diff(got, wantSecrets))
		}
		got, err := st.Session(ctx, fresh.ID)
		fresh.Imported = batch[3].Imported
		if err != nil || !cmp.Equal(got, &fresh) {
			t.Errorf("Session(inserted) = %v (-got +want):\n%s", err, cmp.Diff(got, &fresh))
		}
		if _, err := st.Session(ctx, batch[4].ID); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("Session(of an unknown user) = %v, want ErrNotFound", err)
		}
		if outcomes, err := st.MergeImportedSessions(ctx, nil); err != nil || len(outcomes) != 0 {
			t.Errorf("MergeImportedSessions(nil) = %v, %v", outcomes, err)
		}
	})
}

// secrets are imported secrets with a recognisable CSRF secret.
func secrets(uid string, fill byte) *auth.ImportedSecrets {
	return &auth.ImportedSecrets{AccessID: uid, CSRFSecret: bytes.Repeat([]byte{fill}, 32)}
}
