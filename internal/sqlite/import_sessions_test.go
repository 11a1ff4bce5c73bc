package sqlite_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authtest"
	"github.com/gatehouse/gatehouse/internal/sqlite"
)

func TestImportSessions(t *testing.T) {
	authtest.RunImportSessionsTests(t, func(t *testing.T) authtest.SessionImporter { return newStore(t) })
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

func TestImportedSessions(t *testing.T) {
	authtest.RunImportedSessionTests(t, func(t *testing.T) authtest.ImportedStore { return newStore(t) })
}
