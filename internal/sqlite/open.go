package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	sqlite3 "modernc.org/sqlite/lib"
)

// openError explains a failure to open the database file at path in an
// operator's terms. SQLite's own "unable to open database file (14)"
// names neither the file nor the cause, and the cause is nearly always one
// of a few mistakes: a folder that does not exist, a file or folder this
// user may not write, a path that is not a SQLite database. Other errors
// (a migration that fails) pass through unchanged.
func openError(path string, err error) error {
	var reason string
	switch errorCode(err) & 0xff { // the primary result code
	case sqlite3.SQLITE_NOTADB:
		reason = "the file is not a SQLite database"
	case sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_AUTH:
		reason = fileProblem(path)
	default:
		return err
	}
	return fmt.Errorf("sqlite: open %s: %s (%w)", path, reason, err)
}

// fileProblem looks at the folder and the file to say why SQLite could not
// open path for writing.
func fileProblem(path string) string {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("the folder %s does not exist (gatehouse creates the database file, not its folder)", dir)
	case err != nil:
		return fmt.Sprintf("cannot reach the folder %s: %v", dir, err)
	case !fi.IsDir():
		return fmt.Sprintf("%s is not a folder", dir)
	}
	if fi, err := os.Stat(path); err == nil {
		if fi.IsDir() {
			return "it is a folder, not a file"
		}
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return fmt.Sprintf("this user (uid %d) may not read and write the file: %v", os.Getuid(), err)
		}
		f.Close()
	}
	// SQLite creates the file, and in WAL mode path-wal and path-shm, in
	// the folder: it must be writable even when the file already is.
	probe, err := os.CreateTemp(dir, ".gatehouse-probe-*")
	if err != nil {
		return fmt.Sprintf("this user (uid %d) may not create files in the folder %s, where the database and its -wal and -shm files go", os.Getuid(), dir)
	}
	probe.Close()
	os.Remove(probe.Name())
	return "SQLite could not open it"
}
