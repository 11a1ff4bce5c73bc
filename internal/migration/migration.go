// Package migration reads the numbered SQL migrations that each store
// embeds (migrations/NNNN_name.sql). Applying them is each store's own
// business: transactions and locking differ between databases.
package migration

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// File is one migration.
type File struct {
	Version int
	Name    string // the file name, e.g. 0001_init.sql
	SQL     string
}

// Load returns the migrations dir/*.sql of fsys ordered by version. Every
// name must start with a positive number and '_', and no two may share a
// number.
func Load(fsys fs.FS, dir string) ([]File, error) {
	names, err := fs.Glob(fsys, dir+"/*.sql")
	if err != nil {
		return nil, err
	}
	files := make([]File, 0, len(names))
	for _, name := range names {
		base := path.Base(name)
		prefix, _, ok := strings.Cut(base, "_")
		version, err := strconv.Atoi(prefix)
		if !ok || err != nil || version <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number and '_'", base)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		files = append(files, File{Version: version, Name: base, SQL: string(b)})
	}
	slices.SortFunc(files, func(a, b File) int { return a.Version - b.Version })
	for i := 1; i < len(files); i++ {
		if files[i].Version == files[i-1].Version {
			return nil, fmt.Errorf("migrations %s and %s share version %d", files[i-1].Name, files[i].Name, files[i].Version)
		}
	}
	if len(files) == 0 {
		return nil, errors.New("no migrations embedded")
	}
	return files, nil
}
