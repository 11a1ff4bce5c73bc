package sqlite

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpen_ExplainsFailures: a database that cannot be opened is named,
// with the reason in words (SQLite alone says "unable to open database
// file (14)"). The permission cases run as an unprivileged user in
// cmd/gatehouse's container test: root may open anything.
func TestOpen_ExplainsFailures(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notADB := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notADB, []byte("these are not the tables you are looking for\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	aFile := filepath.Join(dir, "file")
	if err := os.WriteFile(aFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		want []string // each must appear in the error
	}{
		{name: "missing_folder", path: filepath.Join(dir, "no", "such", "gatehouse.db"), want: []string{filepath.Join(dir, "no", "such"), "does not exist"}},
		{name: "not_a_database", path: notADB, want: []string{notADB, "not a SQLite database"}},
		{name: "folder_is_a_file", path: filepath.Join(aFile, "gatehouse.db"), want: []string{aFile, "not a folder"}},
		{name: "path_is_a_folder", path: dir, want: []string{dir, "is a folder"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(t.Context(), tt.path)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q): got no error, want one", tt.path)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Open(%q): got %q, want it to mention %q", tt.path, err, w)
				}
			}
		})
	}
}
