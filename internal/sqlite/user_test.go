package sqlite_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// BenchmarkImportUsers measures the CLI's bulk load: one ImportUsers call
// per batch of fresh rows; rows/s is the figure to compare with the target
// of 50,000. Building the batch is not timed.
func BenchmarkImportUsers(b *testing.B) {
	for _, size := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			s := newStore(b)
			ctx := context.Background()
			batch := make([]auth.User, size)
			var rows int64
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				for i := range batch {
					rows++
					batch[i] = auth.User{
						ID:           rows,
						Email:        fmt.Sprintf("user%d@example.com", rows),
						PasswordHash: "$2a$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
						CreatedAt:    t0, UpdatedAt: t0,
					}
				}
				b.StartTimer()
				if _, err := s.ImportUsers(ctx, batch); err != nil {
					b.Fatalf("ImportUsers(%d rows) = %v", len(batch), err)
				}
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkImportUsers_Rerun is the resumed import: every row is already
// there (ImportUnchanged), which costs a lookup per row on top of the insert.
func BenchmarkImportUsers_Rerun(b *testing.B) {
	const size = 1000
	s := newStore(b)
	ctx := context.Background()
	batch := make([]auth.User, size)
	for i := range batch {
		batch[i] = auth.User{ID: int64(i + 1), Email: fmt.Sprintf("user%d@example.com", i+1), PasswordHash: "h", CreatedAt: t0, UpdatedAt: t0}
	}
	if _, err := s.ImportUsers(ctx, batch); err != nil {
		b.Fatalf("ImportUsers = %v", err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.ImportUsers(ctx, batch); err != nil {
			b.Fatalf("ImportUsers = %v", err)
		}
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "rows/s")
}
