package authtest

import (
	"bytes"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// ImportedStore is a store that takes imported sessions
// (auth.ImportedSessionStore).
type ImportedStore interface {
	auth.Store
	auth.ImportedSessionStore
}

// RunImportedSessionTests checks the store side of importing sessions
// with their secrets: the look-ups the import batches on, the secrets'
// round trip, and which secrets PruneImportedSecrets deletes.
func RunImportedSessionTests(t *testing.T, newStore func(t *testing.T) ImportedStore) {
	t.Run("Lookups", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		ctx := t.Context()
		u, first := mustCreateUser(t, st, "ada@example.com")
		moved := newSession(u.ID, t0)
		moved.Generation = 4
		if err := st.ImportSessions(ctx, []auth.Session{*moved}); err != nil {
			t.Fatalf("ImportSessions = %v", err)
		}
		gens, err := st.SessionGenerations(ctx, []string{first.ID, "absent", moved.ID})
		want := map[string]int64{first.ID: 0, moved.ID: 4}
		if err != nil || !maps.Equal(gens, want) {
			t.Errorf("SessionGenerations = %v, %v; want %v", gens, err, want)
		}
		known, err := st.ExistingUsers(ctx, []int64{u.ID, u.ID + 1000})
		if err != nil || !maps.Equal(known, map[int64]bool{u.ID: true}) {
			t.Errorf("ExistingUsers(%d, %d) = %v, %v; want only %d", u.ID, u.ID+1000, known, err, u.ID)
		}
	})
	t.Run("SecretsRoundTrip", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		ctx := t.Context()
		_, sess := mustCreateUser(t, st, "ada@example.com")
		if _, err := st.ImportedSecrets(ctx, sess.ID); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("ImportedSecrets before any = %v, want ErrNotFound", err)
		}
		for _, uid := range []string{"first-uid", "replaced-uid"} {
			in := auth.ImportedSession{Session: *sess, ImportedSecrets: auth.ImportedSecrets{
				AccessID: uid, CSRFSecret: bytes.Repeat([]byte(uid[:1]), 32)}}
			if err := st.PutImportedSecrets(ctx, []auth.ImportedSession{in}); err != nil {
				t.Fatalf("PutImportedSecrets(%s) = %v", uid, err)
			}
			got, err := st.ImportedSecrets(ctx, sess.ID)
			if err != nil || got.AccessID != uid || !bytes.Equal(got.CSRFSecret, in.CSRFSecret) {
				t.Errorf("ImportedSecrets after PutImportedSecrets(%s) = %+v, %v", uid, got, err)
			}
		}
		absent := auth.ImportedSession{Session: auth.Session{ID: "absent"}, ImportedSecrets: auth.ImportedSecrets{AccessID: "u", CSRFSecret: make([]byte, 32)}}
		if err := st.PutImportedSecrets(ctx, []auth.ImportedSession{absent}); err == nil {
			t.Error("PutImportedSecrets(absent session) = nil, want an error")
		}
	})
	t.Run("Prune", testPruneImportedSecrets(newStore))
}

func testPruneImportedSecrets(newStore func(t *testing.T) ImportedStore) func(t *testing.T) {
	return func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		ctx := t.Context()
		u, _ := mustCreateUser(t, st, "ada@example.com")
		other, _ := mustCreateUser(t, st, "bob@example.com")
		now := t0.Add(time.Hour)
		cutoff := now.Add(-10 * time.Second)
		at := func(userID, gen int64, rotated time.Time, edit func(*auth.Session)) auth.Session {
			s := newSession(userID, t0)
			s.Generation, s.RotatedAt = gen, rotated
			if edit != nil {
				edit(s)
			}
			return *s
		}
		sessions := map[string]auth.Session{
			"gen0":             at(u.ID, 0, t0, nil),
			"gen1_in_grace":    at(u.ID, 1, cutoff, nil),
			"gen1_after_grace": at(u.ID, 1, cutoff.Add(-time.Microsecond), nil),
			"gen2":             at(u.ID, 2, now, nil),
			"revoked":          at(u.ID, 0, t0, func(s *auth.Session) { s.RevokedAt = now }),
			"expired":          at(u.ID, 0, t0, func(s *auth.Session) { s.ExpiresAt = now }),
			"user_deleted":     at(other.ID, 0, t0, nil),
		}
		var all []auth.Session
		var secrets []auth.ImportedSession
		for _, s := range sessions {
			all = append(all, s)
			secrets = append(secrets, auth.ImportedSession{Session: s, ImportedSecrets: auth.ImportedSecrets{AccessID: "u", CSRFSecret: make([]byte, 32)}})
		}
		if err := st.ImportSessions(ctx, all); err != nil {
			t.Fatalf("ImportSessions = %v", err)
		}
		if err := st.PutImportedSecrets(ctx, secrets); err != nil {
			t.Fatalf("PutImportedSecrets = %v", err)
		}
		if _, err := st.DeleteUser(ctx, other.ID); err != nil {
			t.Fatalf("DeleteUser = %v", err)
		}
		n, err := st.PruneImportedSecrets(ctx, now, cutoff)
		if err != nil || n != 4 {
			t.Errorf("PruneImportedSecrets = %d, %v; want 4 (gen1_after_grace, gen2, revoked, expired)", n, err)
		}
		var kept []string
		for name, s := range sessions {
			if _, err := st.ImportedSecrets(ctx, s.ID); err == nil {
				kept = append(kept, name)
			}
		}
		slices.Sort(kept)
		if want := []string{"gen0", "gen1_in_grace"}; !slices.Equal(kept, want) {
			t.Errorf("secrets kept after PruneImportedSecrets: %q, want %q", kept, want)
		}
	}
}
