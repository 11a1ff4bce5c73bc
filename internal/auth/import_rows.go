package auth

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/password"
)

// importRow is one row as read, before validation.
type importRow struct {
	line                         int64
	id, email, digest, createdAt string
	bad                          string // why the row could not even be read
}

// user validates r and returns the user it describes, or why it is
// invalid. now stands in for a missing created_at.
func (r *importRow) user(now time.Time) (User, string) {
	idText := strings.TrimSpace(r.id)
	id, err := strconv.ParseInt(idText, 10, 64)
	overflow := errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(idText, "-")
	switch {
	case idText == "":
		return User{}, "id is missing"
	case overflow || err == nil && id > MaxImportID:
		return User{}, fmt.Sprintf("id %s is above %d (2^52), the largest id an import may use", quote(idText), MaxImportID)
	case err != nil || id <= 0:
		return User{}, fmt.Sprintf("id %s is not a positive integer", quote(idText))
	}
	email := NormalizeEmail(r.email)
	switch {
	case email == "":
		return User{}, "email is missing"
	case len(email) > maxEmailBytes:
		return User{}, fmt.Sprintf("email is longer than %d bytes", maxEmailBytes)
	case !validEmail(email):
		return User{}, fmt.Sprintf("email %s is invalid", quote(email))
	}
	digest := strings.TrimSpace(r.digest)
	if reason := digestProblem(digest); reason != "" {
		return User{}, reason
	}
	created, reason := importTime(r.createdAt, now)
	if reason != "" {
		return User{}, reason
	}
	return User{ID: id, Email: email, PasswordHash: digest, CreatedAt: created, UpdatedAt: now}, ""
}

// digestProblem says why d cannot be stored as a password hash, or "": it
// must be a hash that can match some password at a cost a sign-in affords
// (package password's import bounds). It never echoes d: a digest is a
// secret worth keeping out of terminals.
func digestProblem(d string) string {
	if d == "" {
		return "password_digest is missing"
	}
	if err := password.CheckImported(d); err != nil {
		return "password_digest refused: " + strings.TrimPrefix(err.Error(), password.ErrMalformedHash.Error()+": ")
	}
	return ""
}

// importTimeLayouts are the ways exports spell created_at: RFC 3339 (JSON,
// Rails' as_json), ActiveRecord's UTC "2006-01-02 15:04:05.999999" (CSV from
// the database or Rails), and PostgreSQL's timestamptz text. Fractional
// seconds are optional in every layout.
var importTimeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05Z07",
	"2006-01-02 15:04:05 -0700",
}

// importTime parses created_at; empty means now. A time without a zone is
// UTC, as ActiveRecord stores it; Ruby's "… UTC" suffix is accepted too.
func importTime(s string, now time.Time) (time.Time, string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return now, ""
	}
	v := strings.TrimSuffix(s, " UTC")
	for _, layout := range importTimeLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC().Truncate(time.Microsecond), ""
		}
	}
	return time.Time{}, fmt.Sprintf("created_at %s is not a time like 2006-01-02 15:04:05 or RFC 3339", quote(s))
}

// quote shows a value from the input safely and briefly in a report.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strconv.Quote(s)
}

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

// rowReader yields the rows of an export one at a time; io.EOF at the end.
// A row it cannot make sense of comes back with bad set, and reading goes
// on; only an error of the input itself stops it.
type rowReader interface {
	next() (importRow, error)
}

func newRowReader(f ImportFormat, r io.Reader) (rowReader, error) {
	switch f {
	case ImportCSV:
		return newCSVRows(r)
	case ImportJSONL:
		return &jsonlRows{r: bufio.NewReaderSize(r, maxImportRecord)}, nil
	}
	return nil, fmt.Errorf("unknown format %q (want csv or jsonl)", f)
}

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
		return nil, fmt.Errorf("CSV header is longer than %d KiB", maxImportRecord>>10)
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
			return nil, fmt.Errorf("CSV header has no %s column (the first line must name the columns; it is %s)", name, quote(strings.Join(header, ",")))
		}
	}
	return c, nil
}

func (c *csvRows) next() (importRow, error) {
	// csv.Reader reads ahead, so a dropped record may be reported before
	// the rows above it; the report is sorted by line in the end.
	if row, ok := c.dropped(); ok {
		return row, nil
	}
	rec, err := c.r.Read()
	var pe *csv.ParseError
	switch {
	case errors.As(err, &pe):
		return importRow{line: int64(pe.StartLine), bad: "bad CSV: " + pe.Err.Error()}, nil
	case err != nil:
		if row, ok := c.dropped(); ok {
			return row, nil
		}
		return importRow{}, err
	}
	line, _ := c.r.FieldPos(0)
	if len(rec) < c.need {
		return importRow{line: int64(line), bad: fmt.Sprintf("has %d fields, want at least %d", len(rec), c.need)}, nil
	}
	row := importRow{line: int64(line), id: rec[c.col[0]], email: rec[c.col[1]], digest: rec[c.col[2]]}
	if k := c.col[3]; k >= 0 && k < len(rec) {
		row.createdAt = rec[k]
	}
	return row, nil
}

// jsonlRows reads one JSON object per line; blank lines are skipped.
type jsonlRows struct {
	r    *bufio.Reader
	line int64
}

func (j *jsonlRows) next() (importRow, error) {
	for {
		b, err := j.r.ReadSlice('\n')
		tooLong := errors.Is(err, bufio.ErrBufferFull)
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = j.r.ReadSlice('\n')
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return importRow{}, err
		}
		if len(b) == 0 && err != nil && !tooLong {
			return importRow{}, err
		}
		j.line++
		if tooLong {
			return importRow{line: j.line, bad: fmt.Sprintf("line is longer than %d KiB", maxImportRecord>>10)}, nil
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
func jsonRow(line int64, b []byte) importRow {
	var v struct {
		ID                json.RawMessage `json:"id"`
		Email             string          `json:"email"`
		PasswordDigest    string          `json:"password_digest"`
		EncryptedPassword string          `json:"encrypted_password"`
		CreatedAt         string          `json:"created_at"`
	}
	if b[0] != '{' {
		return importRow{line: line, bad: "not a JSON object"}
	}
	var te *json.UnmarshalTypeError
	if err := json.Unmarshal(b, &v); errors.As(err, &te) {
		return importRow{line: line, bad: te.Field + " is not a string"}
	} else if err != nil {
		return importRow{line: line, bad: "bad JSON: " + strings.TrimPrefix(err.Error(), "json: ")}
	}
	row := importRow{line: line, email: v.Email, digest: v.PasswordDigest, createdAt: v.CreatedAt}
	if row.digest == "" {
		row.digest = v.EncryptedPassword
	}
	// id is a number, or a numeric string as some exporters write bigints.
	if len(v.ID) > 0 && v.ID[0] == '"' {
		json.Unmarshal(v.ID, &row.id)
	} else if string(v.ID) != "null" {
		row.id = string(v.ID)
	}
	return row
}
