package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// ownerOnly creates the database file at path if it is missing and makes
// it and its companions (-wal, -shm, -journal) readable by the owner
// alone, whatever the umask. The database holds password hashes and the
// sealed signing keys, so other local users have no business reading it.
// SQLite gives the companions it creates the database file's permissions
// (it fchmods them to match), so creating the file 0600 before SQLite
// opens it covers them too; an existing file from an earlier version, made
// 0644, is tightened here.
func ownerOnly(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("sqlite: open %s: %s (%w)", path, fileProblem(path), err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		st, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err == nil && st.Mode().Perm()&0o077 != 0 {
			err = os.Chmod(p, st.Mode().Perm()&0o700)
		}
		if err != nil {
			return fmt.Errorf("sqlite: make %s owner-only: %w", p, err)
		}
	}
	return nil
}
