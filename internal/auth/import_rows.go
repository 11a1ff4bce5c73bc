package auth

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/password"
)

// ImportRow is one row of an export as read, before validation: the
// text of its fields, which ImportUsers checks as it checks any input.
type ImportRow struct {
	Line                         int64 // 1-based line of the input where the row starts
	ID, Email, Digest, CreatedAt string
	Bad                          string // why the row could not even be read; the rest is then unset
}

// ImportRows yields the rows of an export one at a time; io.EOF at the
// end. A row it cannot make sense of comes back with Bad set, and reading
// goes on; only an error of the input itself stops it.
type ImportRows interface {
	Next() (ImportRow, error)
	// Offset is how many bytes of the input have been consumed.
	Offset() int64
}

// user validates r and returns the user it describes, or why it is
// invalid. now stands in for a missing created_at.
func (r *ImportRow) user(now time.Time) (User, string) {
	idText := strings.TrimSpace(r.ID)
	id, err := strconv.ParseInt(idText, 10, 64)
	overflow := errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(idText, "-")
	switch {
	case idText == "":
		return User{}, "id is missing"
	case overflow || err == nil && id > MaxImportID:
		return User{}, fmt.Sprintf("id %s is above %d (2^52), the largest id an import may use", QuoteInput(idText), MaxImportID)
	case err != nil || id <= 0:
		return User{}, fmt.Sprintf("id %s is not a positive integer", QuoteInput(idText))
	}
	email := NormalizeEmail(r.Email)
	switch {
	case email == "":
		return User{}, "email is missing"
	case len(email) > maxEmailBytes:
		return User{}, fmt.Sprintf("email is longer than %d bytes", maxEmailBytes)
	case !validEmail(email):
		return User{}, fmt.Sprintf("email %s is invalid", QuoteInput(email))
	}
	digest := strings.TrimSpace(r.Digest)
	if reason := digestProblem(digest); reason != "" {
		return User{}, reason
	}
	created, reason := importTime(r.CreatedAt, now)
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
	return time.Time{}, fmt.Sprintf("created_at %s is not a time like 2006-01-02 15:04:05 or RFC 3339", QuoteInput(s))
}

// QuoteInput shows a value from untrusted input safely and briefly in a
// report: quoted, escaped and cut to 64 bytes.
func QuoteInput(s string) string {
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
