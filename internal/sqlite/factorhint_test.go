package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/gatehouse/gatehouse/internal/authtest"
)

// TestMigrate_BackfillsFactorHint: 0010 sets the hint of the users who
// had factors before it.
func TestMigrate_BackfillsFactorHint(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "gatehouse.db"))
	undo := func() {
		for _, stmt := range []string{
			`DROP TRIGGER totp_confirmed`,
			`DROP TRIGGER totp_inserted_confirmed`,
			`DROP TRIGGER recovery_code_added`,
			`DROP TRIGGER passkey_added`,
			`DROP TRIGGER recovery_code_restored`, // of 0011, which needs the columns; not put back
			`ALTER TABLE users DROP COLUMN may_have_second_factor`,
			`ALTER TABLE users DROP COLUMN factor_version`,
			`DELETE FROM schema_migrations WHERE version = 10`,
		} {
			if _, err := s.writer.ExecContext(t.Context(), stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
	}
	authtest.RunFactorHintBackfillTest(t, s, undo, func() error { return s.Migrate(t.Context()) })
}
