package migration

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		files   []string
		want    []int
		wantErr string
	}{
		{name: "ordered", files: []string{"0002_b.sql", "0001_a.sql", "0010_c.sql"}, want: []int{1, 2, 10}},
		{name: "noNumber", files: []string{"init.sql"}, wantErr: "positive number"},
		{name: "zero", files: []string{"0000_a.sql"}, wantErr: "positive number"},
		{name: "sameVersion", files: []string{"0001_a.sql", "01_b.sql"}, wantErr: "share version 1"},
		{name: "none", files: nil, wantErr: "no migrations"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{"m/notes.txt": {Data: []byte("ignored")}}
			for _, f := range tt.files {
				fsys["m/"+f] = &fstest.MapFile{Data: []byte("-- " + f)}
			}
			got, err := Load(fsys, "m")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load(%v): got error %v, want one containing %q", tt.files, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load(%v): %v", tt.files, err)
			}
			for i, f := range got {
				if f.Version != tt.want[i] || f.SQL != "-- "+f.Name {
					t.Errorf("Load(%v)[%d] = %+v, want version %d with its file's text", tt.files, i, f, tt.want[i])
				}
			}
		})
	}
}
