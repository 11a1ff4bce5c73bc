package sqlite

import (
	"fmt"
	"syscall"
)

// FreeBytes is the space left to unprivileged writers on the file system
// of the database's folder. SQLite needs headroom there beyond the data it
// writes: a checkpoint copies the write-ahead log (up to about 4 MiB
// between automatic checkpoints) into the database file, which grows the
// file before the log can be reset. On a full disk every write fails and
// the log cannot shrink; freeing less than that headroom lets the next
// checkpoint fill the disk again (docs/operations.md).
func (s *Store) FreeBytes() (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.dir, &st); err != nil {
		return 0, fmt.Errorf("sqlite: free space of %s: %w", s.dir, err)
	}
	return st.Bavail * uint64(st.Bsize), nil
}
