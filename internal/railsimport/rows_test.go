package railsimport_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/railsimport"
)

// readAll reads every row of in and the offset after the last.
func readAll(t *testing.T, f railsimport.Format, in string) ([]auth.ImportRow, int64) {
	t.Helper()
	rows, err := railsimport.NewRows(f, strings.NewReader(in))
	if err != nil {
		t.Fatalf("NewRows(%s) = %v", f, err)
	}
	var out []auth.ImportRow
	for {
		row, err := rows.Next()
		if errors.Is(err, io.EOF) {
			return out, rows.Offset()
		}
		if err != nil {
			t.Fatalf("Next() after %d rows = %v", len(out), err)
		}
		out = append(out, row)
	}
}

// The two formats describe the same rows the same way: fields as written
// (validation is auth's), lines of the input, Devise's column name.
func TestRows_Formats(t *testing.T) {
	t.Parallel()
	want := []auth.ImportRow{
		{Line: 2, ID: "1", Email: "a@example.com", Digest: "$2a$04$x", CreatedAt: "2020-01-02 03:04:05"},
		{Line: 3, ID: "2", Email: " B@Example.com", Digest: "d"},
	}
	tests := []struct {
		name   string
		format railsimport.Format
		in     string
	}{
		{"CSV", railsimport.CSV, "\uFEFFid,email,password_digest,created_at\n1,a@example.com,$2a$04$x,2020-01-02 03:04:05\n2, B@Example.com,d,\n"},
		{"CSVDevise", railsimport.CSV, "created_at,encrypted_password,email,id,name\n2020-01-02 03:04:05,$2a$04$x,a@example.com,1,x\n,d, B@Example.com,2,y\n"},
		{"JSONL", railsimport.JSONL, "{}\n" +
			`{"id":1,"email":"a@example.com","password_digest":"$2a$04$x","created_at":"2020-01-02 03:04:05"}` + "\n" +
			`{"id":"2","email":" B@Example.com","encrypted_password":"d"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, offset := readAll(t, tt.format, tt.in)
			if tt.format == railsimport.JSONL {
				got = got[1:] // line 1, {}, has no fields at all
			}
			if len(got) != len(want) {
				t.Fatalf("rows of %q = %+v, want %+v", tt.in, got, want)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("row %d of %q = %+v, want %+v", i, tt.in, got[i], want[i])
				}
			}
			if offset != int64(len(tt.in)) {
				t.Errorf("Offset() at the end = %d, want %d (the whole input)", offset, len(tt.in))
			}
		})
	}
}

// Input that cannot be an export at all fails NewRows, and Import still
// returns a report.
func TestNewRows_NotAnExport(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		format railsimport.Format
		in     string
		want   string
	}{
		{"UnknownFormat", "xml", "", `unknown format "xml"`},
		{"Empty", railsimport.CSV, "", "the input is empty"},
		{"NoEmailColumn", railsimport.CSV, "id,password_digest\n", "no email column"},
		{"TwiceID", railsimport.CSV, "id,email,password_digest,ID\n", "names the id column twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := railsimport.NewRows(tt.format, strings.NewReader(tt.in)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewRows(%s, %q) = %v, want an error containing %q", tt.format, tt.in, err, tt.want)
			}
			rep, err := railsimport.Import(t.Context(), nil, strings.NewReader(tt.in), tt.format, auth.ImportOptions{})
			if err == nil || rep == nil || rep.Rows() != 0 {
				t.Errorf("Import(%s, %q) = %+v, %v; want an empty report and an error", tt.format, tt.in, rep, err)
			}
		})
	}
}
