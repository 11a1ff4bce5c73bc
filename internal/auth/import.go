package auth

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

// MaxImportID is the largest user id ImportUsers takes, 2^52. Registrations
// after an import get ids above the largest imported one, and both stores
// fail every registration once the id sequence reaches 2^63-1; ids also
// travel as JSON numbers (user_id in every access token), which JavaScript
// reads exactly only up to 2^53. 2^52 leaves 2^52 registrations within
// that, and is far above any Rails app's bigint sequence.
const MaxImportID = 1 << 52

// importBatch rows go to the store per transaction: enough to spread the
// cost of a durable commit over many rows, few enough that a server sharing
// the database never waits long for the write lock.
const importBatch = 5000

// ImportOptions configure ImportUsers.
type ImportOptions struct {
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

// ImportUsers stores the users of rows, an export of the Rails app read by
// package railsimport, with their ids, so the app's other tables still match user_id. Every row is
// validated; bad rows are counted and reported, never fatal. Rows are
// committed in batches, and a row already present with the same id and
// email is Unchanged, so running an import again (after a failure, or with
// a newer export) is safe. Passwords keep their bcrypt digests until each
// user's next sign-in re-hashes them with argon2id.
//
// The error is for what stops the import: unreadable input, the store
// failing, ctx ending. The report, never nil, then covers the rows
// handled before, which are committed.
func (s *Service) ImportUsers(ctx context.Context, rows ImportRows, opt ImportOptions) (*ImportReport, error) {
	withDefault(&opt.MaxProblems, 100)
	imp := &importer{s: s, opt: opt, in: rows, start: time.Now(), now: s.clock(), seen: map[int64]int64{}, rep: &ImportReport{}}
	err := imp.run(ctx)
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
	in    ImportRows
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

func (imp *importer) run(ctx context.Context) error {
	for {
		row, err := imp.in.Next()
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
func (imp *importer) add(row ImportRow) {
	if row.Bad != "" {
		imp.invalid(row.Line, row.Bad)
		return
	}
	u, reason := row.user(imp.now)
	if reason != "" {
		imp.invalid(row.Line, reason)
		return
	}
	if first, dup := imp.seen[u.ID]; dup {
		imp.invalid(row.Line, fmt.Sprintf("id %d repeats line %d", u.ID, first))
		return
	}
	imp.seen[u.ID] = row.Line
	imp.batch = append(imp.batch, u)
	imp.lines = append(imp.lines, row.Line)
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
		imp.opt.Progress(ImportProgress{Rows: imp.rep.Rows(), Bytes: imp.in.Offset(), Elapsed: time.Since(imp.start)})
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
