package auth

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ImportFormat is the encoding of an export of the Rails app's users table.
type ImportFormat string

// The formats ImportUsers reads. CSV needs a header row naming the columns
// id, email, password_digest (or Devise's encrypted_password) and,
// optionally, created_at, in any order; other columns are ignored. JSON
// Lines is one object per line with the same keys; id may be a number or a
// numeric string.
const (
	ImportCSV   ImportFormat = "csv"
	ImportJSONL ImportFormat = "jsonl"
)

// importBatch rows go to the store per transaction: enough to spread the
// cost of a durable commit over many rows, few enough that a server sharing
// the database never waits long for the write lock.
const importBatch = 5000

// ImportOptions configure ImportUsers.
type ImportOptions struct {
	Format ImportFormat
	// Progress, if set, is called after every batch of rows.
	Progress func(ImportProgress)
	// MaxProblems caps ImportReport.Problems (the counts are always
	// complete). Default 100.
	MaxProblems int
}

// ImportProgress is how far an import has got. Elapsed, like
// ImportReport.Elapsed, is wall time, not the service clock: it measures
// throughput.
type ImportProgress struct {
	Rows, Bytes int64 // rows read (whatever their outcome), input consumed
	Elapsed     time.Duration
}

// ImportProblem is a row that was not imported.
type ImportProblem struct {
	Line int64 // 1-based line of the input where the row starts
	// Conflict is set when the row is valid but its id or email belongs to
	// another user; otherwise the row itself is invalid.
	Conflict bool
	Reason   string
}

func (p ImportProblem) String() string { return fmt.Sprintf("line %d: %s", p.Line, p.Reason) }

// ImportReport sums up an import. Unchanged rows were already present with the same id and email; Problems
// lists the first MaxProblems conflicting or invalid rows.
type ImportReport struct {
	Inserted, Unchanged, Conflicts, Invalid int64
	Problems                                []ImportProblem
	Elapsed                                 time.Duration
}

// Rows is the number of rows read.
func (r *ImportReport) Rows() int64 { return r.Inserted + r.Unchanged + r.Conflicts + r.Invalid }

// ImportUsers reads users exported from the Rails app and stores them with
// their ids, so the app's other tables still match user_id. Every row is
// validated; bad rows are counted and reported, never fatal. Rows are
// committed in batches, and a row already present with the same id and
// email is Unchanged, so running an import again (after a failure, or with
// a newer export) is safe. Passwords keep their bcrypt digests until each
// user's next sign-in re-hashes them with argon2id.
//
// The error is for what stops the import: unreadable input, a CSV header
// without the needed columns, the store failing, ctx ending. Its message
// describes the input ("CSV header has no email column"), for the caller to
// prefix with the file name. The report, never nil, then covers the rows
// handled before, which are committed.
func (s *Service) ImportUsers(ctx context.Context, r io.Reader, opt ImportOptions) (*ImportReport, error) {
	withDefault(&opt.MaxProblems, 100)
	in := &countingReader{r: r}
	imp := &importer{s: s, opt: opt, in: in, start: time.Now(), now: s.clock(), seen: map[int64]int64{}, rep: &ImportReport{}}
	rows, err := newRowReader(opt.Format, in)
	if err == nil {
		err = imp.run(ctx, rows)
	}
	imp.rep.Elapsed = time.Since(imp.start)
	// Conflicts are known only when a batch is stored, after the invalid
	// rows around them.
	slices.SortStableFunc(imp.rep.Problems, func(a, b ImportProblem) int { return cmp.Compare(a.Line, b.Line) })
	return imp.rep, err
}

// importer is the state of one ImportUsers call.
type importer struct {
	s     *Service
	opt   ImportOptions
	in    *countingReader
	start time.Time
	now   time.Time
	// seen maps valid ids to their line: the store would call an id
	// repeated within the input Unchanged, hiding a broken export.
	seen    map[int64]int64
	batch   []User
	lines   []int64 // lines[i] is where batch[i] came from
	pending int     // rows read since the last flush
	rep     *ImportReport
}

func (imp *importer) run(ctx context.Context, rows rowReader) error {
	for {
		row, err := rows.next()
		if err != nil {
			// Store what was read before a read error too: it is valid,
			// and a rerun will find it Unchanged.
			ferr := imp.flush(ctx)
			if errors.Is(err, io.EOF) {
				return ferr
			}
			return errors.Join(fmt.Errorf("read: %w", err), ferr)
		}
		imp.add(row)
		if imp.pending++; imp.pending >= importBatch {
			if err := imp.flush(ctx); err != nil {
				return err
			}
		}
	}
}

// add validates row and queues it for the store, or reports it.
func (imp *importer) add(row importRow) {
	if row.bad != "" {
		imp.invalid(row.line, row.bad)
		return
	}
	u, reason := row.user(imp.now)
	if reason != "" {
		imp.invalid(row.line, reason)
		return
	}
	if first, dup := imp.seen[u.ID]; dup {
		imp.invalid(row.line, fmt.Sprintf("id %d repeats line %d", u.ID, first))
		return
	}
	imp.seen[u.ID] = row.line
	imp.batch = append(imp.batch, u)
	imp.lines = append(imp.lines, row.line)
}

func (imp *importer) invalid(line int64, reason string) {
	imp.rep.Invalid++
	if imp.listing() {
		imp.rep.Problems = append(imp.rep.Problems, ImportProblem{Line: line, Reason: reason})
	}
}

func (imp *importer) listing() bool { return len(imp.rep.Problems) < imp.opt.MaxProblems }

// flush stores the queued rows in one transaction and reports progress.
func (imp *importer) flush(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(imp.batch) > 0 {
		statuses, err := imp.s.store.ImportUsers(ctx, imp.batch)
		if err == nil && len(statuses) != len(imp.batch) {
			err = fmt.Errorf("store returned %d statuses for %d rows", len(statuses), len(imp.batch))
		}
		if err != nil {
			return fmt.Errorf("store lines %d to %d: %w", imp.lines[0], imp.lines[len(imp.lines)-1], err)
		}
		for i, st := range statuses {
			imp.tally(ctx, st, &imp.batch[i], imp.lines[i])
		}
		imp.batch, imp.lines = imp.batch[:0], imp.lines[:0]
	}
	imp.pending = 0
	if imp.opt.Progress != nil {
		imp.opt.Progress(ImportProgress{Rows: imp.rep.Rows(), Bytes: imp.in.n, Elapsed: time.Since(imp.start)})
	}
	return nil
}

func (imp *importer) tally(ctx context.Context, st ImportStatus, u *User, line int64) {
	switch st {
	case ImportInserted:
		imp.rep.Inserted++
	case ImportUnchanged:
		imp.rep.Unchanged++
	default:
		imp.rep.Conflicts++
		if imp.listing() {
			imp.rep.Problems = append(imp.rep.Problems, ImportProblem{Line: line, Conflict: true, Reason: imp.conflict(ctx, u)})
		}
	}
}

// conflict says whose the id or email is. It costs a look-up or two, so it
// runs only for the conflicts that are listed.
func (imp *importer) conflict(ctx context.Context, u *User) string {
	if other, err := imp.s.store.UserByID(ctx, u.ID); err == nil && other.Email != u.Email {
		return fmt.Sprintf("id %d already belongs to %s", u.ID, other.Email)
	}
	if other, err := imp.s.store.UserByEmail(ctx, u.Email); err == nil && other.ID != u.ID {
		return fmt.Sprintf("email %s already belongs to user %d", u.Email, other.ID)
	}
	return fmt.Sprintf("id %d or email %s belongs to another user", u.ID, u.Email)
}

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
	switch {
	case idText == "":
		return User{}, "id is missing"
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

// argon2idPHC is the shape of the hashes Gatehouse writes; a user imported
// from another Gatehouse keeps theirs. Parameters are checked on sign-in.
var argon2idPHC = regexp.MustCompile(`^\$argon2id\$v=19\$m=[1-9][0-9]{0,9},t=[1-9][0-9]{0,9},p=[1-9][0-9]{0,2}\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$`)

// digestProblem says why d cannot be stored as a password hash, or "". It
// never echoes d: a digest is a secret worth keeping out of terminals.
func digestProblem(d string) string {
	switch {
	case d == "":
		return "password_digest is missing"
	case strings.HasPrefix(d, "$2a$") || strings.HasPrefix(d, "$2b$") || strings.HasPrefix(d, "$2y$"):
		return bcryptProblem(d)
	case strings.HasPrefix(d, "$argon2id$"):
		if !argon2idPHC.MatchString(d) {
			return "password_digest is not a well-formed argon2id hash"
		}
		return ""
	}
	return "password_digest is neither a bcrypt digest ($2a$, $2b$, $2y$) nor an argon2id hash"
}

// bcryptProblem checks a digest as package password's Verify will: 60
// characters, a cost it accepts (4 to 16; Rails uses 12), bcrypt base64.
func bcryptProblem(d string) string {
	if len(d) != 60 || d[6] != '$' || !isDigit(d[4]) || !isDigit(d[5]) {
		return fmt.Sprintf("password_digest is not a bcrypt digest (want 60 characters, got %d)", len(d))
	}
	if cost := int(d[4]-'0')*10 + int(d[5]-'0'); cost < 4 || cost > 16 {
		return fmt.Sprintf("password_digest has bcrypt cost %d; sign-in accepts 4 to 16", cost)
	}
	for i := 7; i < len(d); i++ {
		if c := d[i]; !isAlpha(c) && !isDigit(c) && c != '.' && c != '/' {
			return "password_digest is not a bcrypt digest (bad character)"
		}
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
		return &jsonlRows{r: bufio.NewReaderSize(r, maxJSONLine)}, nil
	}
	return nil, fmt.Errorf("unknown format %q (want csv or jsonl)", f)
}

// csvRows reads RFC 4180 CSV with a header row.
type csvRows struct {
	r    *csv.Reader
	col  [4]int // field index of id, email, digest, created_at; -1 if absent
	need int    // fields a record must have to hold the required columns
}

var importColumns = map[string]int{"id": 0, "email": 1, "password_digest": 2, "encrypted_password": 2, "created_at": 3}

func newCSVRows(r io.Reader) (*csvRows, error) {
	c := &csvRows{r: csv.NewReader(r), col: [4]int{-1, -1, -1, -1}}
	c.r.FieldsPerRecord = -1 // rows are checked for the columns we need
	c.r.ReuseRecord = true
	header, err := c.r.Read()
	switch {
	case errors.Is(err, io.EOF):
		return nil, errors.New("the input is empty: want a CSV header row id,email,password_digest,created_at")
	case err != nil:
		return nil, fmt.Errorf("CSV header: %w", err)
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
	rec, err := c.r.Read()
	var pe *csv.ParseError
	switch {
	case errors.As(err, &pe):
		return importRow{line: int64(pe.StartLine), bad: "bad CSV: " + pe.Err.Error()}, nil
	case err != nil:
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

// maxJSONLine bounds a JSON Lines row; a users row is a few hundred bytes.
const maxJSONLine = 64 << 10

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
			return importRow{line: j.line, bad: fmt.Sprintf("line is longer than %d KiB", maxJSONLine>>10)}, nil
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
