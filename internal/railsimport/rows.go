package railsimport

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// countingReader counts the bytes read through it, for progress.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// rowReader is one format's reader of rows.
type rowReader interface {
	next() (auth.ImportRow, error)
}

// Rows reads an export's rows for auth.Service.ImportUsers.
type Rows struct {
	in   *countingReader
	rows rowReader
}

var _ auth.ImportRows = (*Rows)(nil)

// NewRows reads r in format f. The error is for input that cannot be an
// export at all (an unknown format; a CSV header without the needed
// columns); its message describes the input, for the caller to prefix with
// the file name.
func NewRows(f Format, r io.Reader) (*Rows, error) {
	in := &countingReader{r: r}
	var rows rowReader
	var err error
	switch f {
	case CSV:
		rows, err = newCSVRows(in)
	case JSONL:
		rows = &jsonlRows{r: bufio.NewReaderSize(in, maxRecord)}
	default:
		err = fmt.Errorf("unknown format %q (want csv or jsonl)", f)
	}
	if err != nil {
		return nil, err
	}
	return &Rows{in: in, rows: rows}, nil
}

// Next returns the next row; io.EOF at the end.
func (r *Rows) Next() (auth.ImportRow, error) { return r.rows.next() }

// Offset is how many bytes of the input have been read.
func (r *Rows) Offset() int64 { return r.in.n }

// csvRows reads RFC 4180 CSV with a header row.
type csvRows struct {
	in   *csvRecords
	r    *csv.Reader
	col  [4]int // field index of id, email, digest, created_at; -1 if absent
	need int    // fields a record must have to hold the required columns
}

var importColumns = map[string]int{"id": 0, "email": 1, "password_digest": 2, "encrypted_password": 2, "created_at": 3}

func newCSVRows(r io.Reader) (*csvRows, error) {
	in := newCSVRecords(r)
	c := &csvRows{in: in, r: csv.NewReader(in), col: [4]int{-1, -1, -1, -1}}
	c.r.FieldsPerRecord = -1 // rows are checked for the columns we need
	c.r.ReuseRecord = true
	header, err := c.r.Read()
	switch {
	case errors.Is(err, io.EOF):
		return nil, errors.New("the input is empty: want a CSV header row id,email,password_digest,created_at")
	case err != nil:
		return nil, fmt.Errorf("CSV header: %w", err)
	case len(in.dropped) > 0 && in.dropped[0] == 1:
		return nil, fmt.Errorf("CSV header is longer than %d KiB", maxRecord>>10)
	}
	for i, name := range header {
		// Spreadsheets like to start a UTF-8 file with a byte order mark.
		name = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(name, "\uFEFF")))
		k, ok := importColumns[name]
		if !ok {
			continue
		}
		if c.col[k] >= 0 {
			return nil, fmt.Errorf("CSV header names the %s column twice", []string{"id", "email", "password digest", "created_at"}[k])
		}
		c.col[k] = i
		if k < 3 {
			c.need = max(c.need, i+1)
		}
	}
	for k, name := range []string{"id", "email", "password_digest (or encrypted_password)"} {
		if c.col[k] < 0 {
			return nil, fmt.Errorf("CSV header has no %s column (the first line must name the columns; it is %s)", name, auth.QuoteInput(strings.Join(header, ",")))
		}
	}
	return c, nil
}

func (c *csvRows) next() (auth.ImportRow, error) {
	// csv.Reader reads ahead, so a dropped record may be reported before
	// the rows above it; the report is sorted by line in the end.
	if row, ok := c.dropped(); ok {
		return row, nil
	}
	rec, err := c.r.Read()
	var pe *csv.ParseError
	switch {
	case errors.As(err, &pe):
		return auth.ImportRow{Line: int64(pe.StartLine), Bad: "bad CSV: " + pe.Err.Error()}, nil
	case err != nil:
		if row, ok := c.dropped(); ok {
			return row, nil
		}
		return auth.ImportRow{}, err
	}
	line, _ := c.r.FieldPos(0)
	if len(rec) < c.need {
		return auth.ImportRow{Line: int64(line), Bad: fmt.Sprintf("has %d fields, want at least %d", len(rec), c.need)}, nil
	}
	row := auth.ImportRow{Line: int64(line), ID: rec[c.col[0]], Email: rec[c.col[1]], Digest: rec[c.col[2]]}
	if k := c.col[3]; k >= 0 && k < len(rec) {
		row.CreatedAt = rec[k]
	}
	return row, nil
}

// jsonlRows reads one JSON object per line; blank lines are skipped.
type jsonlRows struct {
	r    *bufio.Reader
	line int64
}

func (j *jsonlRows) next() (auth.ImportRow, error) {
	for {
		b, err := j.r.ReadSlice('\n')
		tooLong := errors.Is(err, bufio.ErrBufferFull)
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = j.r.ReadSlice('\n')
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return auth.ImportRow{}, err
		}
		if len(b) == 0 && err != nil && !tooLong {
			return auth.ImportRow{}, err
		}
		j.line++
		if tooLong {
			return auth.ImportRow{Line: j.line, Bad: fmt.Sprintf("line is longer than %d KiB", maxRecord>>10)}, nil
		}
		if j.line == 1 {
			b = bytes.TrimPrefix(b, []byte("\uFEFF"))
		}
		if b = bytes.TrimSpace(b); len(b) > 0 {
			return jsonRow(j.line, b), nil
		}
	}
}

// jsonRow decodes one line. Keys other than the four are ignored.
func jsonRow(line int64, b []byte) auth.ImportRow {
	var v struct {
		ID                json.RawMessage `json:"id"`
		Email             string          `json:"email"`
		PasswordDigest    string          `json:"password_digest"`
		EncryptedPassword string          `json:"encrypted_password"`
		CreatedAt         string          `json:"created_at"`
	}
	if b[0] != '{' {
		return auth.ImportRow{Line: line, Bad: "not a JSON object"}
	}
	var te *json.UnmarshalTypeError
	if err := json.Unmarshal(b, &v); errors.As(err, &te) {
		return auth.ImportRow{Line: line, Bad: te.Field + " is not a string"}
	} else if err != nil {
		return auth.ImportRow{Line: line, Bad: "bad JSON: " + strings.TrimPrefix(err.Error(), "json: ")}
	}
	row := auth.ImportRow{Line: line, Email: v.Email, Digest: v.PasswordDigest, CreatedAt: v.CreatedAt}
	if row.Digest == "" {
		row.Digest = v.EncryptedPassword
	}
	// id is a number, or a numeric string as some exporters write bigints.
	if len(v.ID) > 0 && v.ID[0] == '"' {
		json.Unmarshal(v.ID, &row.ID)
	} else if string(v.ID) != "null" {
		row.ID = string(v.ID)
	}
	return row
}
