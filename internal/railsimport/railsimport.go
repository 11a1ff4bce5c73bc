// Package railsimport reads exports of the Rails app's users table, CSV or
// JSON Lines, into the rows auth.Service.ImportUsers validates and stores.
// It knows the export formats (columns, header, quoting, per-record memory
// bounds); what makes a row a valid user is auth's.
package railsimport

import (
	"context"
	"io"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// Format is the encoding of an export.
type Format string

// The formats NewRows reads. CSV needs a header row naming the columns id,
// email, password_digest (or Devise's encrypted_password) and, optionally,
// created_at, in any order; other columns are ignored. JSON Lines is one
// object per line with the same keys; id may be a number or a numeric
// string.
const (
	CSV   Format = "csv"
	JSONL Format = "jsonl"
)

// Import reads r in format f and imports its users with svc (see
// auth.Service.ImportUsers). The report is never nil: when the input
// cannot be an export at all, it is empty and the error says why.
func Import(ctx context.Context, svc *auth.Service, r io.Reader, f Format, opt auth.ImportOptions) (*auth.ImportReport, error) {
	rows, err := NewRows(f, r)
	if err != nil {
		return &auth.ImportReport{}, err
	}
	return svc.ImportUsers(ctx, rows, opt)
}
