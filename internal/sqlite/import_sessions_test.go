package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/sqlite"
)

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

func TestImportSessions_RoundTrip(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	u := mustCreateUser(t, s, "ada@example.com", "s1")
	in := importedSessions(u.ID, 4)
	if err := s.ImportSessions(ctx, in); err != nil {
		t.Fatalf("ImportSessions(%d sessions) = %v", len(in), err)
	}
	for _, want := range in {
		got, err := s.Session(ctx, want.ID)
		if err != nil {
			t.Fatalf("Session(%q) after ImportSessions = %v", want.ID, err)
		}
		if d := cmp.Diff(*got, want); d != "" {
			t.Errorf("Session(%q) after ImportSessions (-got +want):\n%s", want.ID, d)
		}
	}
	// No per-user cap: the signed-up session and every live import stay.
	live, err := s.ListSessions(ctx, u.ID, t0)
	if err != nil || len(live) != len(in) {
		t.Errorf("ListSessions(%d) after ImportSessions = %d sessions, %v; want %d live", u.ID, len(live), err, len(in))
	}
	if err := s.ImportSessions(ctx, nil); err != nil {
		t.Errorf("ImportSessions(nil) = %v, want nil", err)
	}
}

func TestImportSessions_FailsWholeBatch(t *testing.T) {
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
			s := newStore(t)
			ctx := t.Context()
			u := mustCreateUser(t, s, "ada@example.com", "s1")
			batch := importedSessions(u.ID, 3)
			tt.mutate(batch)
			err := s.ImportSessions(ctx, batch)
			if err == nil || errors.Is(err, auth.ErrNotFound) != tt.notFound {
				t.Fatalf("ImportSessions(%s) = %v, want an error (ErrNotFound: %v)", tt.name, err, tt.notFound)
			}
			if _, err := s.Session(ctx, batch[0].ID); !errors.Is(err, auth.ErrNotFound) {
				t.Errorf("Session(%q) after a failed ImportSessions = %v, want ErrNotFound: nothing may be inserted", batch[0].ID, err)
			}
		})
	}
}

// BenchmarkImportSessions is the bench's session seeding: batches of
// fresh sessions spread over users; rows/s is the figure that matters.
func BenchmarkImportSessions(b *testing.B) {
	const size, users = 5000, 100
	s := newStore(b)
	ctx := context.Background()
	ids := make([]int64, users)
	for i := range ids {
		ids[i] = mustCreateUser(b, s, fmt.Sprintf("user%d@example.com", i), fmt.Sprintf("u%d", i)).ID
	}
	batch := make([]auth.Session, size)
	var rows int
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		for i := range batch {
			batch[i] = *testSession(fmt.Sprintf("b%d", rows), ids[rows%users])
			rows++
		}
		b.StartTimer()
		if err := s.ImportSessions(ctx, batch); err != nil {
			b.Fatalf("ImportSessions(%d rows) = %v", len(batch), err)
		}
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

// gatehouse bench finds ImportSessions by a type assertion, so a changed
// signature would quietly fall back to a commit per session: fail here.
var _ interface {
	ImportSessions(context.Context, []auth.Session) error
} = (*sqlite.Store)(nil)
