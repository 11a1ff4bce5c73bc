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
	// Session's ID, UserID, AccessExpiresAt and ExpiresAt are the
	// source's; ImportSessions fills in the rest.
	ImportedSession
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
	imp := &sessionImporter{s: s, st: st, opt: opt, now: s.clock(), rep: &SessionImportReport{}}
	start := time.Now()
	err := imp.run(ctx, rows, start)
	imp.rep.Elapsed = time.Since(start)
	return imp.rep, err
}

// sessionImportBatch sessions go to the store per transaction, more than
// importBatch users: session ids are random, so however the batch is
// ordered its inserts touch leaf pages all over the primary-key indexes,
// and fewer, larger batches rewrite each page fewer times (on SQLite 20,000
// imported about 30 % faster than 5,000, docs/benchmarks.md). The price is
// the write lock held up to about 1.5 s per batch, within the 5 s a server
// sharing the database waits for it.
const sessionImportBatch = 20000

type sessionImporter struct {
	s     *Service
	st    ImportedSessionStore
	opt   SessionImportOptions
	now   time.Time
	rep   *SessionImportReport
	batch []ImportedSession
	keys  []string // keys[i] is where batch[i] came from
}

func (imp *sessionImporter) run(ctx context.Context, rows SessionRows, start time.Time) error {
	for {
		row, err := rows.Next()
		if err != nil {
			ferr := imp.flush(ctx, start)
			if errors.Is(err, io.EOF) {
				return ferr
			}
			return errors.Join(fmt.Errorf("read: %w", err), ferr)
		}
		imp.add(row)
		if len(imp.batch) >= sessionImportBatch {
			if err := imp.flush(ctx, start); err != nil {
				return err
			}
		}
	}
}

func (imp *sessionImporter) add(row SessionRow) {
	if row.Bad == "" {
		row.Bad = validImport(&row.ImportedSession)
	}
	switch {
	case row.Bad != "":
		imp.rep.Malformed++
		imp.problem(row.Key, row.Bad)
	case !imp.now.Before(row.Session.ExpiresAt):
		imp.rep.Expired++
	default:
		sess := &row.Session
		// The gem does not cap an access token at its session's end;
		// Gatehouse does (the token is refused past it either way).
		if sess.AccessExpiresAt.After(sess.ExpiresAt) {
			sess.AccessExpiresAt = sess.ExpiresAt
		}
		sess.Generation = 0
		sess.RotatedAt, sess.CreatedAt, sess.LastUsedAt = imp.now, imp.now, imp.now
		sess.RevokedAt = time.Time{}
		imp.batch = append(imp.batch, row.ImportedSession)
		imp.keys = append(imp.keys, row.Key)
	}
}

// validImport says what is wrong with an imported session, or "".
func validImport(imp *ImportedSession) string {
	switch {
	case imp.Session.ID == "" || len(imp.Session.ID) > 64:
		return "session id is empty or longer than 64 bytes"
	case imp.Session.UserID <= 0 || imp.Session.UserID > MaxImportID:
		return fmt.Sprintf("user id %d is out of range", imp.Session.UserID)
	case imp.AccessID == "" || len(imp.AccessID) > 64:
		return "access uid is empty or longer than 64 bytes"
	case len(imp.CSRFSecret) != csrf.SecretSize:
		return fmt.Sprintf("CSRF secret is %d bytes, not %d", len(imp.CSRFSecret), csrf.SecretSize)
	}
	return ""
}

func (imp *sessionImporter) problem(key, reason string) {
	if len(imp.rep.Problems) < imp.opt.MaxProblems {
		imp.rep.Problems = append(imp.rep.Problems, key+": "+reason)
	}
}

// flush stores a batch: the sessions not present yet in one bulk insert,
// then the secrets of those and of the present ones still at generation 0.
func (imp *sessionImporter) flush(ctx context.Context, start time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(imp.batch) > 0 {
		if err := imp.store(ctx); err != nil {
			return fmt.Errorf("store sessions %s to %s: %w", imp.keys[0], imp.keys[len(imp.keys)-1], err)
		}
		imp.batch, imp.keys = imp.batch[:0], imp.keys[:0]
	}
	if imp.opt.Progress != nil {
		p := *imp.rep
		p.Elapsed = time.Since(start)
		imp.opt.Progress(p)
	}
	return nil
}

func (imp *sessionImporter) store(ctx context.Context) error {
	// Session ids are random: in their order, the inserts of a batch walk
	// the primary-key index from one end to the other instead of touching
	// a random page each, which is most of the cost of a large import.
	// (Problems are listed by key, so their order does not matter.)
	order := make([]int, len(imp.batch))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(imp.batch[a].Session.ID, imp.batch[b].Session.ID) })
	batch, keys := make([]ImportedSession, len(order)), make([]string, len(order))
	for i, j := range order {
		batch[i], keys[i] = imp.batch[j], imp.keys[j]
	}
	imp.batch, imp.keys = batch, keys
	ids := make([]string, len(imp.batch))
	users := make([]int64, len(imp.batch))
	for i := range imp.batch {
		ids[i], users[i] = imp.batch[i].Session.ID, imp.batch[i].Session.UserID
	}
	gens, err := imp.st.SessionGenerations(ctx, ids)
	if err != nil {
		return err
	}
	known, err := imp.st.ExistingUsers(ctx, users)
	if err != nil {
		return err
	}
	var fresh []Session
	var secrets []ImportedSession
	var present, unknown int64
	for i := range imp.batch {
		row := &imp.batch[i]
		gen, ok := gens[row.Session.ID]
		switch {
		case ok:
			present++
			if gen == 0 {
				secrets = append(secrets, *row)
			}
		case !known[row.Session.UserID]:
			unknown++
			imp.problem(imp.keys[i], fmt.Sprintf("user %d is not in Gatehouse (import the users first)", row.Session.UserID))
		default:
			gens[row.Session.ID] = 0 // a repeat later in the batch is present
			fresh = append(fresh, row.Session)
			secrets = append(secrets, *row)
		}
	}
	if err := imp.st.ImportSessions(ctx, fresh); err != nil {
		return err
	}
	if err := imp.st.PutImportedSecrets(ctx, secrets); err != nil {
		return err
	}
	imp.rep.Imported += int64(len(fresh))
	imp.rep.Present += present
	imp.rep.UnknownUser += unknown
	return nil
}
