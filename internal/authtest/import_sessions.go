package authtest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// SessionImporter is a store with the bulk session insert that seeding and
// migrations use. It is not part of auth.Store (it skips the per-user
// cap), so it has a suite of its own, which every store that offers it
// passes.
type SessionImporter interface {
	auth.Store
	ImportSessions(ctx context.Context, sessions []auth.Session) error
}

// RunImportSessionsTests checks ImportSessions: every field round-trips,
// the per-user cap is not applied, and a bad row fails the whole batch.
func RunImportSessionsTests(t *testing.T, newStore func(t *testing.T) SessionImporter) {
	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		ctx := t.Context()
		u, first := mustCreateUser(t, st, "ada@example.com")
		in := importedSessions(u.ID, 4)
		if err := st.ImportSessions(ctx, in); err != nil {
			t.Fatalf("ImportSessions(%d sessions) = %v", len(in), err)
		}
		for _, want := range in {
			got, err := st.Session(ctx, want.ID)
			if err != nil {
				t.Fatalf("Session(%q) after ImportSessions = %v", want.ID, err)
			}
			if d := cmp.Diff(*got, want); d != "" {
				t.Errorf("Session(%q) after ImportSessions (-got +want):\n%s", want.ID, d)
			}
		}
		// No per-user cap: the signed-up session and every live import stay.
		live, err := st.ListSessions(ctx, u.ID, first.CreatedAt)
		if err != nil || len(live) != len(in) {
			t.Errorf("ListSessions(%d) after ImportSessions = %d sessions, %v; want %d live", u.ID, len(live), err, len(in))
		}
		if err := st.ImportSessions(ctx, nil); err != nil {
			t.Errorf("ImportSessions(nil) = %v, want nil", err)
		}
	})
	tests := []struct {
		name     string
		mutate   func(batch []auth.Session, existing string)
		notFound bool
	}{
		{name: "MissingUser", mutate: func(b []auth.Session, _ string) { b[2].UserID = 1 << 40 }, notFound: true},
		{name: "IDTaken", mutate: func(b []auth.Session, existing string) { b[2].ID = existing }},
		{name: "IDTwiceInBatch", mutate: func(b []auth.Session, _ string) { b[2].ID = b[0].ID }},
	}
	for _, tt := range tests {
		t.Run("FailsWholeBatch_"+tt.name, func(t *testing.T) {
			t.Parallel()
			st := newStore(t)
			ctx := t.Context()
			u, existing := mustCreateUser(t, st, "ada@example.com")
			batch := importedSessions(u.ID, 3)
			tt.mutate(batch, existing.ID)
			err := st.ImportSessions(ctx, batch)
			if err == nil || errors.Is(err, auth.ErrNotFound) != tt.notFound {
				t.Fatalf("ImportSessions(%s) = %v, want an error (ErrNotFound: %v)", tt.name, err, tt.notFound)
			}
			if _, err := st.Session(ctx, batch[0].ID); !errors.Is(err, auth.ErrNotFound) {
				t.Errorf("Session(%q) after a failed ImportSessions = %v, want ErrNotFound: nothing may be inserted", batch[0].ID, err)
			}
		})
	}
}

// importedSessions returns n sessions of userID whose every field differs
// from the zero value and from the other sessions', the last one revoked.
func importedSessions(userID int64, n int) []auth.Session {
	out := make([]auth.Session, n)
	for i := range out {
		at := t0.Add(time.Duration(i) * time.Minute)
		out[i] = auth.Session{
			ID: fmt.Sprintf("imported-%d", i), UserID: userID, Generation: int64(3 + i),
			RotatedAt: at.Add(time.Second), AccessExpiresAt: at.Add(15 * time.Minute),
			CreatedAt: at, LastUsedAt: at.Add(2 * time.Second), ExpiresAt: at.Add(30 * 24 * time.Hour),
			IP: fmt.Sprintf("203.0.113.%d", i+1), UserAgent: fmt.Sprintf("agent %d", i),
		}
	}
	out[n-1].RevokedAt = t0.Add(time.Hour)
	return out
}
