package postgres

import (
	"testing"

	"github.com/gatehouse/gatehouse/internal/authtest"
)

// TestMigrate_BackfillsFactorHint: 0009 sets the hint of the users who
// had factors before it.
func TestMigrate_BackfillsFactorHint(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t)
	// The function's CASCADE drops 0010's trigger too, so 0010 is undone
	// and redone with 0009.
	undo := func() {
		_, err := s.pool.Exec(t.Context(), `
			DROP FUNCTION mark_second_factor() CASCADE;
			ALTER TABLE users DROP COLUMN may_have_second_factor, DROP COLUMN factor_version;
			DELETE FROM schema_migrations WHERE version IN (9, 10)`)
		if err != nil {
			t.Fatalf("undoing 0009: %v", err)
		}
	}
	authtest.RunFactorHintBackfillTest(t, s, undo, func() error { return s.Migrate(t.Context()) })
}
