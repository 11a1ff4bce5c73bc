package postgres

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// importUser stores one user with one session "s1" in a fresh database
// (skipped without GATEHOUSE_TEST_POSTGRES_URL, see newTestDB).
func importUser(t *testing.T) (*Store, *auth.User) {
	t.Helper()
	st, _ := newTestStore(t)
	at := time.Date(2025, time.March, 14, 9, 26, 53, 589793000, time.UTC)
	u := &auth.User{Email: "ada@example.com", PasswordHash: "x", CreatedAt: at, UpdatedAt: at}
	s := &auth.Session{ID: "s1", RotatedAt: at, AccessExpiresAt: at.Add(time.Hour),
		CreatedAt: at, LastUsedAt: at, ExpiresAt: at.Add(24 * time.Hour)}
	if err := st.CreateUser(t.Context(), u, s); err != nil {
		t.Fatalf("CreateUser = %v", err)
	}
	return st, u
}

// importedSessions returns n sessions of userID whose every field differs
// from the zero value and from the other sessions', the last one revoked.
func importedSessions(userID int64, n int) []auth.Session {
	t0 := time.Date(2025, time.March, 14, 9, 26, 53, 589793000, time.UTC)
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

func TestImportSessions_RoundTrip(t *testing.T) {
	t.Parallel()
	st, u := importUser(t)
	ctx := t.Context()
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
	live, err := st.ListSessions(ctx, u.ID, in[0].CreatedAt)
	if err != nil || len(live) != len(in) {
		t.Errorf("ListSessions(%d) after ImportSessions = %d sessions, %v; want %d live", u.ID, len(live), err, len(in))
	}
	if err := st.ImportSessions(ctx, nil); err != nil {
		t.Errorf("ImportSessions(nil) = %v, want nil", err)
	}
}

func TestImportSessions_FailsWholeBatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		mutate   func(batch []auth.Session)
		notFound bool
	}{
		{name: "missingUser", mutate: func(b []auth.Session) { b[2].UserID = 42 }, notFound: true},
		{name: "idTaken", mutate: func(b []auth.Session) { b[2].ID = "s1" }},
		{name: "idTwiceInBatch", mutate: func(b []auth.Session) { b[2].ID = b[0].ID }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, u := importUser(t)
			ctx := t.Context()
			batch := importedSessions(u.ID, 3)
			tt.mutate(batch)
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
