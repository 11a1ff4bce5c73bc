package auth_test

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/railsimport"
)

// railsDigest is what has_secure_password stores for pw, at the cheapest
// cost (Rails uses 12; the tests are about the import, not bcrypt).
func railsDigest(tb testing.TB, pw string) string {
	tb.Helper()
	d, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		tb.Fatal(err)
	}
	return string(d)
}

// importText imports in and fails the test on an error that stops it.
func importText(tb testing.TB, svc *auth.Service, f railsimport.Format, in string) *auth.ImportReport {
	tb.Helper()
	rep, err := railsimport.Import(context.Background(), svc, strings.NewReader(in), f, auth.ImportOptions{})
	if err != nil {
		tb.Fatalf("ImportUsers(%s) = %v", f, err)
	}
	return rep
}

// counts is an ImportReport without its problems and time.
type counts struct{ inserted, unchanged, conflicts, invalid int64 }

func countsOf(r *auth.ImportReport) counts {
	return counts{r.Inserted, r.Unchanged, r.Conflicts, r.Invalid}
}

func problems(r *auth.ImportReport) []string {
	var out []string
	for _, p := range r.Problems {
		out = append(out, p.String())
	}
	return out
}

func TestImportUsers_CSV(t *testing.T) {
	e := newEnv(t)
	d := railsDigest(t, testPassword)
	argon, _ := password.NewHasher(tinyParams).Hash(testPassword)
	// Columns out of order, extra columns, quoted fields (with commas, as
	// in any argon2id hash, and a newline), a byte order mark, CRLF line
	// ends, and every created_at spelling of Rails, PostgreSQL and JSON.
	in := "\uFEFFemail,name,ID,password_digest,created_at\r\n" +
		"Alice@Example.com,\"Smith, Alice\",7," + d + ",2019-03-04 12:34:56.123456\r\n" +
		"\"bob@example.com\",\"Bob\nBuilder\",8,\"" + d + "\",2019-03-04T12:34:56Z\r\n" +
		"carol@example.com,,9," + d + ",2019-03-04 13:34:56+01\r\n" +
		"dave@example.com,,10,\"" + argon + "\",2019-03-04 12:34:56 UTC\r\n" +
		"erin@example.com,,11," + d + ",\r\n"
	rep := importText(t, e.svc, railsimport.CSV, in)
	if got, want := countsOf(rep), (counts{inserted: 5}); got != want || len(rep.Problems) > 0 {
		t.Fatalf("ImportUsers() = %+v %q, want %+v", got, problems(rep), want)
	}
	want := []struct {
		id      int64
		email   string
		created time.Time
	}{
		{7, "alice@example.com", time.Date(2019, 3, 4, 12, 34, 56, 123456000, time.UTC)},
		{8, "bob@example.com", time.Date(2019, 3, 4, 12, 34, 56, 0, time.UTC)},
		{9, "carol@example.com", time.Date(2019, 3, 4, 12, 34, 56, 0, time.UTC)},
		{10, "dave@example.com", time.Date(2019, 3, 4, 12, 34, 56, 0, time.UTC)},
		{11, "erin@example.com", t0.Truncate(time.Microsecond)},
	}
	for _, w := range want {
		u, err := e.store.UserByID(context.Background(), w.id)
		if err != nil || u.Email != w.email || !u.CreatedAt.Equal(w.created) {
			t.Errorf("UserByID(%d) = %+v, %v; want %s created %v", w.id, u, err, w.email, w.created)
		}
	}
	if u, _ := e.svc.CreateUser(context.Background(), "new@example.com", testPassword); u == nil || u.ID <= 11 {
		t.Errorf("CreateUser after import: got %+v, want an id above the imported ones", u)
	}
}

func TestImportUsers_JSONL(t *testing.T) {
	e := newEnv(t)
	d := railsDigest(t, testPassword)
	in := fmt.Sprintf("\uFEFF"+`{"id": 1, "email": "a@example.com", "password_digest": %q, "created_at": "2019-03-04T12:34:56.000Z", "name": "A"}
{"id": "2", "email": "b@example.com", "password_digest": %q, "created_at": null}

{"id": 3, "email": "c@example.com", "encrypted_password": %q}
`, d, d, d)
	rep := importText(t, e.svc, railsimport.JSONL, in)
	if got, want := countsOf(rep), (counts{inserted: 3}); got != want {
		t.Fatalf("ImportUsers() = %+v %q, want %+v", got, problems(rep), want)
	}
}

// argonKey is 32 bytes of argon2id key in PHC base64.
const argonKey = "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"

// TestImportUsers_BadRows: every reason a row is refused, with its line;
// the good rows around them are imported all the same. Digests that could
// never match, hash costs a sign-in cannot afford, ids the stores cannot
// extend and records too long to hold are refused like any bad row.
func TestImportUsers_BadRows(t *testing.T) {
	d := railsDigest(t, testPassword)
	tests := []struct {
		name   string
		format railsimport.Format
		row    string // line 3 of the input, between two good rows
		want   string
	}{
		{"missingID", railsimport.CSV, ",x@example.com," + d, "line 3: id is missing"},
		{"zeroID", railsimport.CSV, "0,x@example.com," + d, `line 3: id "0" is not a positive integer`},
		{"negativeID", railsimport.CSV, "-4,x@example.com," + d, `id "-4" is not a positive integer`},
		{"textID", railsimport.CSV, "abc,x@example.com," + d, `id "abc" is not a positive integer`},
		{"hugeID", railsimport.CSV, "99999999999999999999,x@example.com," + d, `id "99999999999999999999" is above 4503599627370496`},
		{"maxInt64ID", railsimport.CSV, "9223372036854775807,x@example.com," + d, `id "9223372036854775807" is above 4503599627370496 (2^52)`},
		{"idPastMax", railsimport.CSV, "4503599627370497,x@example.com," + d, `is above 4503599627370496`},
		{"missingEmail", railsimport.CSV, "5,," + d, "line 3: email is missing"},
		{"badEmail", railsimport.CSV, "5,Joe <joe@example.com>," + d, `email "joe <joe@example.com>" is invalid`},
		{"longEmail", railsimport.CSV, "5," + strings.Repeat("a", 250) + "@example.com," + d, "email is longer than 254 bytes"},
		{"missingDigest", railsimport.CSV, "5,x@example.com,", "password_digest is missing"},
		{"plainPassword", railsimport.CSV, "5,x@example.com,hunter2", "password_digest refused: neither a bcrypt digest"},
		{"md5", railsimport.CSV, "5,x@example.com,$1$abc$def", "neither a bcrypt digest"},
		{"truncatedBcrypt", railsimport.CSV, "5,x@example.com," + d[:50], "password_digest refused: bcrypt digest is not 60 characters"},
		{"bcryptCost31", railsimport.CSV, "5,x@example.com,$2a$31" + d[6:], "bcrypt cost out of range"},
		{"bcryptCost15", railsimport.CSV, "5,x@example.com,$2a$15" + d[6:], "bcrypt cost 15 is above 14, the most a sign-in affords"},
		{"bcryptCost3", railsimport.CSV, "5,x@example.com,$2a$03" + d[6:], "bcrypt cost out of range"},
		{"bcryptBadChar", railsimport.CSV, "5,x@example.com," + d[:59] + "!", "not bcrypt base64"},
		// The hash's last character carries two spare bits; set, no password
		// ever matches.
		{"bcryptNeverMatches", railsimport.CSV, "5,x@example.com," + d[:59] + "/", "can never match"},
		{"badArgon2id", railsimport.CSV, "5,x@example.com,$argon2id$v=19$m=x", "want 5 $-separated fields"},
		{"argon2idBadBase64", railsimport.CSV, `5,x@example.com,"$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$!!!"`, "key is not unpadded standard base64"},
		{"argon2idShortSalt", railsimport.CSV, `5,x@example.com,"$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$` + argonKey + `"`, "salt length 4"},
		{"argon2idMemoryBomb", railsimport.CSV, `5,x@example.com,"$argon2id$v=19$m=1048576,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$` + argonKey + `"`, "memory 1048576 KiB is above 65536 KiB"},
		{"argon2idTimeBomb", railsimport.CSV, `5,x@example.com,"$argon2id$v=19$m=19456,t=100,p=1$c2FsdHNhbHRzYWx0c2FsdA$` + argonKey + `"`, "passes 100 are above 4"},
		{"argon2idLanes", railsimport.CSV, `5,x@example.com,"$argon2id$v=19$m=65536,t=1,p=16$c2FsdHNhbHRzYWx0c2FsdA$` + argonKey + `"`, "lanes 16 are above 8"},
		{"badTime", railsimport.CSV, "5,x@example.com," + d + ",yesterday", `created_at "yesterday" is not a time`},
		{"fewFields", railsimport.CSV, "5,x@example.com", "has 2 fields, want at least 3"},
		{"badQuote", railsimport.CSV, `5,x"y@example.com,` + d, "bad CSV"},
		{"duplicateID", railsimport.CSV, "1,other@example.com," + d, "line 3: id 1 repeats line 2"},
		{"badJSON", railsimport.JSONL, `{"id": 5, "email": `, "line 3: bad JSON"},
		{"notObject", railsimport.JSONL, `[5, "x@example.com"]`, "line 3: not a JSON object"},
		{"emailNotString", railsimport.JSONL, `{"id": 5, "email": 5, "password_digest": "` + d + `"}`, "line 3: email is not a string"},
		{"fractionalID", railsimport.JSONL, `{"id": 5.5, "email": "x@example.com", "password_digest": "` + d + `"}`, `id "5.5" is not a positive integer`},
		{"nullID", railsimport.JSONL, `{"id": null, "email": "x@example.com", "password_digest": "` + d + `"}`, "id is missing"},
		{"tooLong", railsimport.JSONL, `{"id": 5, "pad": "` + strings.Repeat("x", 70<<10) + `"}`, "line 3: line is longer than 64 KiB"},
		{"longField", railsimport.CSV, "5,x@example.com," + strings.Repeat("x", 70<<10), "line 3: record is longer than 64 KiB"},
		// A quoted field spanning many short lines is one record: bounded
		// as a whole, and the lines after it keep their numbers.
		{"longMultilineField", railsimport.CSV, `5,"` + strings.Repeat("x\n", 40<<10) + `",` + d, "line 3: record is longer than 64 KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			var in string
			if tt.format == railsimport.CSV {
				in = "id,email,password_digest,created_at\n1,a@example.com," + d + "\n" + tt.row + "\n2,b@example.com," + d + "\n"
			} else {
				in = fmt.Sprintf("\n{\"id\": 1, \"email\": \"a@example.com\", \"password_digest\": %q}\n%s\n{\"id\": 2, \"email\": \"b@example.com\", \"password_digest\": %q}", d, tt.row, d)
			}
			rep := importText(t, e.svc, tt.format, in)
			got := problems(rep)
			if c := countsOf(rep); c != (counts{inserted: 2, invalid: 1}) || len(got) != 1 || !strings.Contains(got[0], tt.want) {
				t.Errorf("ImportUsers(row %.80q) = %+v %q, want 2 inserted and one problem containing %q", tt.row, c, got, tt.want)
			}
			if strings.Contains(strings.Join(got, ""), d[7:]) {
				t.Errorf("a problem echoes the password digest: %q", got)
			}
		})
	}
}

func TestImportUsers_HeaderErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty", "", "the input is empty"},
		{"noHeader", "1,a@example.com,$2a$04$x\n", "CSV header has no id column"},
		{"noDigest", "id,email,password\n", "no password_digest (or encrypted_password) column"},
		{"twice", "id,email,password_digest,encrypted_password\n", "names the password digest column twice"},
	}
	e := newEnv(t)
	for _, tt := range tests {
		_, err := railsimport.Import(context.Background(), e.svc, strings.NewReader(tt.in), railsimport.CSV, auth.ImportOptions{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ImportUsers(%s) = %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
	_, err := railsimport.Import(context.Background(), e.svc, strings.NewReader(""), "xml", auth.ImportOptions{})
	if err == nil || !strings.Contains(err.Error(), `unknown format "xml"`) {
		t.Errorf("ImportUsers(format xml) = %v, want an unknown format error", err)
	}
}

func TestImportUsers_IdempotentAndConflicts(t *testing.T) {
	e := newEnv(t)
	g := e.register(t, "already@example.com") // user 1
	d := railsDigest(t, testPassword)
	in := "id,email,password_digest\n" +
		"5,five@example.com," + d + "\n" +
		"6,six@example.com," + d + "\n" +
		"1,someone.else@example.com," + d + "\n" + // id taken
		"7,already@example.com," + d + "\n" + // email taken
		"8,five@example.com," + d + "\n" // email repeated within the file
	rep := importText(t, e.svc, railsimport.CSV, in)
	wantProblems := []string{
		"line 4: id 1 already belongs to already@example.com",
		fmt.Sprintf("line 5: email already@example.com already belongs to user %d", g.UserID),
		"line 6: email five@example.com already belongs to user 5",
	}
	if got := countsOf(rep); got != (counts{inserted: 2, conflicts: 3}) || !slices.Equal(problems(rep), wantProblems) {
		t.Errorf("first import = %+v %q, want 2 inserted, conflicts %q", got, problems(rep), wantProblems)
	}
	for _, p := range rep.Problems {
		if !p.Conflict {
			t.Errorf("problem %v: Conflict = false, want true", p)
		}
	}
	rep = importText(t, e.svc, railsimport.CSV, in)
	if got := countsOf(rep); got != (counts{unchanged: 2, conflicts: 3}) {
		t.Errorf("second import = %+v %q, want the 2 unchanged and the same 3 conflicts", got, problems(rep))
	}
}

// TestImportUsers_ManyRows crosses batch boundaries, reports progress and
// caps the listed problems while still counting them all.
func TestImportUsers_ManyRows(t *testing.T) {
	e := newEnv(t)
	d := railsDigest(t, testPassword)
	var b strings.Builder
	b.WriteString("id,email,password_digest\n")
	for i := 1; i <= 12_000; i++ {
		if i%40 == 0 {
			fmt.Fprintf(&b, "%d,not-an-email,%s\n", i, d) // 300 bad rows
			continue
		}
		fmt.Fprintf(&b, "%d,user%d@example.com,%s\n", i, i, d)
	}
	var progress []auth.ImportProgress
	rep, err := railsimport.Import(context.Background(), e.svc, strings.NewReader(b.String()), railsimport.CSV, auth.ImportOptions{
		Progress: func(p auth.ImportProgress) { progress = append(progress, p) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := countsOf(rep); got != (counts{inserted: 11_700, invalid: 300}) || len(rep.Problems) != 100 {
		t.Errorf("ImportUsers() = %+v with %d problems listed, want 11700 inserted, 300 invalid, 100 listed", got, len(rep.Problems))
	}
	if rep.Problems[0].String() != `line 41: email "not-an-email" is invalid` {
		t.Errorf("first problem = %q, want line 41's", rep.Problems[0])
	}
	if len(progress) != 3 || progress[2].Rows != 12_000 || progress[2].Bytes != int64(b.Len()) {
		t.Errorf("progress = %+v, want 3 reports ending at 12000 rows and %d bytes", progress, b.Len())
	}
}

// TestImportUsers_SignInUpgradesHash: an imported Rails user signs in with
// their old password, and from then on has an argon2id hash.
func TestImportUsers_SignInUpgradesHash(t *testing.T) {
	e := newEnv(t)
	const railsPassword = "rails-era password 1"
	in := "id,email,password_digest\n42,legacy@example.com," + railsDigest(t, railsPassword) + "\n"
	importText(t, e.svc, railsimport.CSV, in)

	_, err := e.svc.SignIn(context.Background(), auth.Credentials{Email: "legacy@example.com", Password: "wrong", Client: testClient})
	checkErr(t, "SignIn(imported, wrong password)", err, auth.ErrInvalidCredentials)
	g := e.signIn(t, "Legacy@Example.com", railsPassword)
	if g.UserID != 42 {
		t.Errorf("SignIn(imported).UserID = %d, want the Rails id 42", g.UserID)
	}
	u, err := e.store.UserByID(context.Background(), 42)
	if err != nil || !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
		t.Fatalf("hash after sign-in = %.12q, %v; want argon2id", u.PasswordHash, err)
	}
	e.signIn(t, "legacy@example.com", railsPassword)
}

func TestImportUsers_Cancelled(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	in := "id,email,password_digest\n1,a@example.com," + railsDigest(t, testPassword) + "\n"
	rep, err := railsimport.Import(ctx, e.svc, strings.NewReader(in), railsimport.CSV, auth.ImportOptions{})
	if err == nil || rep == nil || rep.Inserted != 0 {
		t.Errorf("ImportUsers(cancelled) = %+v, %v; want an error and nothing inserted", rep, err)
	}
}

// BenchmarkImportUsers loads 100,000 CSV rows into a fresh SQLite file per
// iteration and reports rows/s. Run it with -benchtime=1x or 3x.
func BenchmarkImportUsers(b *testing.B) {
	const n = 100_000
	d := railsDigest(b, testPassword)
	var in strings.Builder
	in.WriteString("id,email,password_digest,created_at\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&in, "%d,user%d@example.com,%s,2019-03-04 12:34:56.123456\n", i, i, d)
	}
	b.ReportAllocs()
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := newEnv(b)
		b.StartTimer()
		rep, err := railsimport.Import(context.Background(), e.svc, strings.NewReader(in.String()), railsimport.CSV, auth.ImportOptions{})
		if err != nil || rep.Inserted != n {
			b.Fatalf("ImportUsers() = %+v, %v", rep, err)
		}
		total += rep.Elapsed
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "rows/s")
}

// TestImportUsers_LongRecordBoundedMemory: a record far over the bound,
// in CSV or JSON Lines, is refused while the importer holds no more than a
// bounded buffer of it (a 200 MB field once took close to a gigabyte), and
// the rows after it keep their line numbers.
func TestImportUsers_LongRecordBoundedMemory(t *testing.T) {
	d := railsDigest(t, testPassword)
	const huge = 64 << 20
	tests := []struct {
		name         string
		format       railsimport.Format
		before, pad  string // pad is repeated to fill huge bytes
		after        string
		wantProblems []string
	}{
		{
			name: "csvField", format: railsimport.CSV,
			before: "id,email,password_digest\n1,a@example.com," + d + "\n2,\"", pad: "x", after: "\",x\n3,bad-email," + d + "\n4,b@example.com," + d + "\n",
			wantProblems: []string{"line 3: record is longer than 64 KiB", `line 4: email "bad-email" is invalid`},
		},
		{
			name: "csvFieldOfLines", format: railsimport.CSV,
			before: "id,email,password_digest\n1,a@example.com," + d + "\n2,\"", pad: "xxxxxxx\n", after: "\",x\n3,bad-email," + d + "\n4,b@example.com," + d + "\n",
			wantProblems: []string{"line 3: record is longer than 64 KiB", fmt.Sprintf(`line %d: email "bad-email" is invalid`, 4+huge/8)},
		},
		{
			name: "jsonlLine", format: railsimport.JSONL,
			before: `{"id": 1, "email": "a@example.com", "password_digest": "` + d + `"}` + "\n" + `{"id": 2, "pad": "`, pad: "x",
			after:        `"}` + "\n" + `{"id": 3, "email": "bad-email", "password_digest": "` + d + `"}` + "\n" + `{"id": 4, "email": "b@example.com", "password_digest": "` + d + `"}` + "\n",
			wantProblems: []string{"line 2: line is longer than 64 KiB", `line 3: email "bad-email" is invalid`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			in := io.MultiReader(strings.NewReader(tt.before), io.LimitReader(&repeatReader{s: tt.pad}, huge), strings.NewReader(tt.after))
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			rep, err := railsimport.Import(context.Background(), e.svc, in, tt.format, auth.ImportOptions{})
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatalf("ImportUsers(%d MiB record) = %v", huge>>20, err)
			}
			if got := countsOf(rep); got != (counts{inserted: 2, invalid: 2}) || !slices.Equal(problems(rep), tt.wantProblems) {
				t.Errorf("ImportUsers(%d MiB record) = %+v %q, want 2 inserted and %q", huge>>20, got, problems(rep), tt.wantProblems)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
				t.Errorf("ImportUsers(%d MiB record) allocated %d MiB, want under 8 MiB", huge>>20, alloc>>20)
			}
		})
	}
}

// repeatReader yields s over and over.
type repeatReader struct {
	s   string
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.s[r.off:])
		n += c
		r.off = (r.off + c) % len(r.s)
	}
	return n, nil
}
