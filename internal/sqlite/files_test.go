package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/gatehouse/gatehouse/internal/sqlite"
)

// TestOpenOwnerOnly: under umask 022 a new database and the WAL and SHM
// files SQLite makes beside it are 0600, and an existing database made
// 0644 by an earlier version is tightened. Not parallel: the umask is the
// process's.
func TestOpenOwnerOnly(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	for _, tt := range []struct {
		name     string
		existing bool
	}{{"new", false}, {"existing_0644", true}} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "g.db")
			if tt.existing {
				for _, p := range []string{path, path + "-wal"} {
					if err := os.WriteFile(p, nil, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			s, err := sqlite.Open(context.Background(), path)
			if err != nil {
				t.Fatalf("Open(%q) = %v", path, err)
			}
			defer s.Close()
			if _, err := s.SigningKeys(t.Context()); err != nil { // a read: the SHM exists
				t.Fatal(err)
			}
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				st, err := os.Stat(p)
				if err != nil {
					t.Fatalf("stat %s: %v", filepath.Base(p), err)
				}
				if perm := st.Mode().Perm(); perm != 0o600 {
					t.Errorf("%s mode = %v, want -rw-------", filepath.Base(p), perm)
				}
			}
		})
	}
}
