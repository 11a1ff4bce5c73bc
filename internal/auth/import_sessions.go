package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/csrf"
)

// SessionRow is one session read from the store of the system Gatehouse
// replaces (package jwtsessions reads the Rails app's).
type SessionRow struct {
	// Key names where the row was read, for the report.
	Key string
	// Bad says why the row could not be read into a session; "" if it was.
	Bad string
	// Session's ID, UserID, AccessExpiresAt, ExpiresAt and Imported are
	// the source's; ImportSessions fills in the rest.
	Session Session
}

// SessionRows is a source of SessionRows: Next returns io.EOF after the
// last one.
type SessionRows interface {
	Next() (SessionRow, error)
}

// SessionImportOptions configure ImportSessions.
type SessionImportOptions struct {
	// Progress, if set, is called after every batch.
	Progress func(SessionImportReport)
	// MaxProblems caps SessionImportReport.Problems (the counts are always
	// complete). Default 100.
	MaxProblems int
}

// SessionImportReport sums up a session import. Present sessions were
// imported before (a re-run); the others that were not imported are
// counted by reason and the first MaxProblems listed.
type SessionImportReport struct {
	Imported, Present, UnknownUser, Expired, Malformed int64
	Problems                                           []string
	Elapsed                                            time.Duration
}

// Rows is the number of rows read.
func (r *SessionImportReport) Rows() int64 {
	return r.Imported + r.Present + r.UnknownUser + r.Expired + r.Malformed
}

// ErrNoSessionImport is returned by ImportSessions for a store that cannot
// take imported sessions.
var ErrNoSessionImport = errors.New("auth: this store cannot import sessions")

// ImportSessions imports live sessions of the system Gatehouse replaces,
// keeping their ids, expiry and the access token and CSRF secret of their
// current generation, so that the tokens already in clients' hands keep
// working: the session continues here at generation 0 and moves on to
// derived secrets at its first refresh. Users must have been imported
// first (ImportUsers keeps their ids). A session already present is left
// as it is (a re-run imports nothing twice) except that, while it is still
// at generation 0, its secrets are replaced by the row's: the source may
// have refreshed it since the last run.
//
// The error is for what stops the import (the source or the store failing,
// ctx ending); the report then covers the batches committed before.
func (s *Service) ImportSessions(ctx context.Context, rows SessionRows, opt SessionImportOptions) (*SessionImportReport, error) {
	st, ok := s.store.(ImportedSessionStore)
	if !ok {
		return &SessionImportReport{}, ErrNoSessionImport
	}
	withDefault(&opt.MaxProblems, 100)
	imp := &sessionImporter{st: st, opt: opt, rep: &SessionImportReport{}}
	start := time.Now()
	err := imp.run(ctx, &sessionReader{rows: rows, now: s.clock(), maxProblems: opt.MaxProblems}, start)
	imp.rep.Elapsed = time.Since(start)
	return imp.rep, err
}

// sessionImportBatch sessions go to the store per transaction, more than
// importBatch users: session ids are random, so however the batch is
// ordered its inserts touch leaf pages all over the primary-key index,
// and fewer, larger batches rewrite each page fewer times (on SQLite 20,000
// imported about 30 % faster than 5,000, docs/benchmarks.md). The price is
// the write lock held up to about a second per batch, within the 5 s a
// server sharing the database waits for it.
const sessionImportBatch = 20000

// sessionBatch is one batch of rows read from the source, sorted by
// session id, with what the reader counted on the way.
type sessionBatch struct {
	sessions []Session
	keys     []string // keys[i] is where sessions[i] came from
	// Rows the reader set aside, counted and listed (up to MaxProblems
	// per batch) for the report.
	malformed, expired int64
	problems           []string
	err                error // reading stopped here (io.EOF at the end)
}

// sessionReader turns source rows into sorted batches. It runs on a
// goroutine of its own, so that reading the next batch (the source's
// round trips, parsing, sorting) overlaps storing the previous one.
type sessionReader struct {
	rows        SessionRows
	now         time.Time
	maxProblems int
}

// read sends batches until the source ends or fails (the last batch
// carries the error), or ctx ends.
func (r *sessionReader) read(ctx context.Context, out chan<- *sessionBatch) {
	defer close(out)
	for {
		b := r.next(ctx)
		select {
		case out <- b:
		case <-ctx.Done():
			return
		}
		if b.err != nil {
			return
		}
	}
}

// next reads a batch; it stops early once ctx has ended (the batch is then
// not stored).
func (r *sessionReader) next(ctx context.Context) *sessionBatch {
	b := &sessionBatch{}
	for len(b.sessions) < sessionImportBatch && ctx.Err() == nil {
		row, err := r.rows.Next()
		if err != nil {
			b.err = err
			break
		}
		r.add(b, row)
	}
	// Session ids are random: in their order, the inserts of a batch walk
	// the primary-key index from one end to the other instead of touching
	// a random page each, which is most of the cost of a large import.
	// (Problems are listed by key, so their order does not matter.)
	order := make([]int, len(b.sessions))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int { return strings.Compare(b.sessions[i].ID, b.sessions[j].ID) })
	sessions, keys := make([]Session, len(order)), make([]string, len(order))
	for i, j := range order {
		sessions[i], keys[i] = b.sessions[j], b.keys[j]
	}
	b.sessions, b.keys = sessions, keys
	return b
}

func (r *sessionReader) add(b *sessionBatch, row SessionRow) {
	sess := &row.Session
	if row.Bad == "" {
		row.Bad = validImport(sess)
	}
	switch {
	case row.Bad != "":
		b.malformed++
		if len(b.problems) < r.maxProblems {
			b.problems = append(b.problems, row.Key+": "+row.Bad)
		}
	case !r.now.Before(sess.ExpiresAt):
		b.expired++
	default:
		// The gem does not cap an access token at its session's end;
		// Gatehouse does (the token is refused past it either way).
		if sess.AccessExpiresAt.After(sess.ExpiresAt) {
			sess.AccessExpiresAt = sess.ExpiresAt
		}
		sess.Generation = 0
		sess.RotatedAt, sess.CreatedAt, sess.LastUsedAt = r.now, r.now, r.now
		sess.RevokedAt = time.Time{}
		b.sessions = append(b.sessions, *sess)
		b.keys = append(b.keys, row.Key)
	}
}

// validImport says what is wrong with an imported session, or "".
func validImport(sess *Session) string {
	switch {
	case sess.ID == "" || len(sess.ID) > 64:
		return "session id is empty or longer than 64 bytes"
	case sess.UserID <= 0 || sess.UserID > MaxImportID:
		return fmt.Sprintf("user id %d is out of range", sess.UserID)
	case sess.Imported == nil:
		return "no access uid or CSRF secret"
	case sess.Imported.AccessID == "" || len(sess.Imported.AccessID) > 64:
		return "access uid is empty or longer than 64 bytes"
	case len(sess.Imported.CSRFSecret) != csrf.SecretSize:
		return fmt.Sprintf("CSRF secret is %d bytes, not %d", len(sess.Imported.CSRFSecret), csrf.SecretSize)
	}
	return ""
}

// sessionImporter stores the reader's batches and keeps the report.
type sessionImporter struct {
	st  ImportedSessionStore
	opt SessionImportOptions
	rep *SessionImportReport
}

func (imp *sessionImporter) run(ctx context.Context, r *sessionReader, start time.Time) error {
	ctx, cancel := context.WithCancel(ctx)
	batches := make(chan *sessionBatch, 1)
	go r.read(ctx, batches)
	defer func() {
		// Stop the reader and wait for it: its source may be closed as
		// soon as the import returns.
		cancel()
		for range batches {
		}
	}()
	for b := range batches {
		if err := imp.store(ctx, b); err != nil {
			return err
		}
		// The report covers the batches stored, the rows set aside in
		// them included.
		imp.rep.Malformed += b.malformed
		imp.rep.Expired += b.expired
		for _, p := range b.problems {
			imp.problem(p)
		}
		if imp.opt.Progress != nil {
			p := *imp.rep
			p.Elapsed = time.Since(start)
			imp.opt.Progress(p)
		}
		if errors.Is(b.err, io.EOF) {
			return nil
		}
		if b.err != nil {
			return fmt.Errorf("read: %w", b.err)
		}
	}
	return ctx.Err()
}

func (imp *sessionImporter) problem(p string) {
	if len(imp.rep.Problems) < imp.opt.MaxProblems {
		imp.rep.Problems = append(imp.rep.Problems, p)
	}
}

// store stores one batch: the sessions not present yet inserted, the
// secrets of the present ones still at generation 0 replaced, in one
// transaction.
func (imp *sessionImporter) store(ctx context.Context, b *sessionBatch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(b.sessions) == 0 {
		return nil
	}
	outcomes, err := imp.st.MergeImportedSessions(ctx, b.sessions)
	if err != nil {
		return fmt.Errorf("store sessions %s to %s: %w", b.keys[0], b.keys[len(b.keys)-1], err)
	}
	for i, o := range outcomes {
		switch o {
		case SessionInserted:
			imp.rep.Imported++
		case SessionPresent:
			imp.rep.Present++
		case SessionUserUnknown:
			imp.rep.UnknownUser++
			imp.problem(fmt.Sprintf("%s: user %d is not in Gatehouse (import the users first)", b.keys[i], b.sessions[i].UserID))
		}
	}
	return nil
}
