package bench

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/loadgen"
	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/token"
)

// seedBatch is the number of rows per seeding transaction. Large because
// seeded session ids are random: every batch writes pages all over the
// sessions' id index, and on SQLite 1M sessions took 22s in batches of
// 10,000 rows and 14s in batches of 50,000 sorted by id.
const seedBatch = 50_000

// newSeedSession is the live session a seeded user gets.
func newSeedSession(userID int64, now time.Time) auth.Session {
	exp := now.Add(7 * 24 * time.Hour)
	return auth.Session{
		ID: token.NewUID(), UserID: userID, RotatedAt: now, AccessExpiresAt: now.Add(time.Hour).Truncate(time.Second),
		CreatedAt: now, LastUsedAt: now, ExpiresAt: exp, IP: "127.0.0.1", UserAgent: "gatehouse-bench",
	}
}

// sessionImporter is a bulk insert of sessions, one transaction per call,
// that the SQLite and PostgreSQL stores have. It is not part of auth.Store:
// it skips the per-user cap, which is right for seeding and migrations
// only. With it a million sessions seed in about 15s (SQLite and
// PostgreSQL alike); without it each is one CreateSession, one commit, and
// a million took four minutes on SQLite.
type sessionImporter interface {
	ImportSessions(ctx context.Context, sessions []auth.Session) error
}

// seedReport is what --seed-users did.
type seedReport struct {
	Users        int     `json:"users"`
	Inserted     int     `json:"inserted"`
	Existing     int     `json:"existing"`
	Conflicts    int     `json:"conflicts"`
	UsersS       float64 `json:"users_seconds"`
	Sessions     int     `json:"sessions"`
	SessionsS    float64 `json:"sessions_seconds"`
	BulkSessions bool    `json:"bulk_sessions"`
}

// seeder fills a database with the sign-in pool: users email(1..n), each
// with one live session.
type seeder struct {
	prog   *loadgen.Status
	hasher *password.Hasher
	email  func(i int) string
	dbName string // the database, redacted, for warnings
	// analyze refreshes the planner's statistics after the bulk load.
	analyze func(ctx context.Context, store auth.Store) error
}

// seed puts users 1..n (email sd.email(i), password benchPassword) into
// store, sharing one precomputed hash, in transactions of seedBatch rows,
// and gives each user it inserted one live session. Seeding a database
// seeded before is harmless: existing users are left as they are.
func (sd *seeder) seed(ctx context.Context, store auth.Store, n int) (*seedReport, error) {
	sd.prog.Live("hashing the seed users' password")
	hash, err := sd.hasher.Hash(benchPassword)
	if err != nil {
		return nil, err
	}
	rep := &seedReport{Users: n}
	now := time.Now().UTC().Truncate(time.Microsecond)
	fresh, err := sd.seedUsers(ctx, store, hash, now, rep)
	if err != nil {
		return nil, err
	}
	if rep.Conflicts > 0 {
		sd.prog.Line("bench: warning: %d seed users conflict with other users in %s; signing them in will fail", rep.Conflicts, sd.dbName)
	}
	if err := sd.seedSessions(ctx, store, fresh, now, rep); err != nil {
		return nil, err
	}
	sd.prog.Live("updating the database's statistics")
	if err := sd.analyze(ctx, store); err != nil {
		return nil, err
	}
	return rep, nil
}

// seedUsers imports users 1..rep.Users, counting what happened to them in
// rep, and returns the ids of those it inserted.
func (sd *seeder) seedUsers(ctx context.Context, store auth.Store, hash string, now time.Time, rep *seedReport) ([]int64, error) {
	n := rep.Users
	start := time.Now()
	var fresh []int64
	users := make([]auth.User, 0, min(n, seedBatch))
	for from := 1; from <= n; from += seedBatch {
		users = users[:0]
		for id := from; id < from+seedBatch && id <= n; id++ {
			users = append(users, auth.User{ID: int64(id), Email: sd.email(id), PasswordHash: hash, CreatedAt: now, UpdatedAt: now})
		}
		statuses, err := store.ImportUsers(ctx, users)
		if err != nil {
			return nil, fmt.Errorf("seed users: %w", err)
		}
		for i, st := range statuses {
			switch st {
			case auth.ImportInserted:
				rep.Inserted++
				fresh = append(fresh, users[i].ID)
			case auth.ImportUnchanged:
				rep.Existing++
			default:
				rep.Conflicts++
			}
		}
		sd.prog.Live("seeding users %d/%d  %s", from+len(users)-1, n, perSecond(from+len(users)-1, time.Since(start)))
	}
	rep.UsersS = time.Since(start).Seconds()
	return fresh, nil
}

// seedSessions gives each user in fresh one live session, in batches of
// seedBatch if the store is a sessionImporter, else one commit each.
func (sd *seeder) seedSessions(ctx context.Context, store auth.Store, fresh []int64, now time.Time, rep *seedReport) error {
	start := time.Now()
	imp, bulk := store.(sessionImporter)
	rep.BulkSessions = bulk
	var made atomic.Int64
	show := func() {
		sd.prog.Live("seeding sessions %d/%d  %s", made.Load(), len(fresh), perSecond(int(made.Load()), time.Since(start)))
	}
	if bulk {
		batch := make([]auth.Session, 0, min(len(fresh), seedBatch))
		for from := 0; from < len(fresh); from += seedBatch {
			batch = batch[:0]
			for _, id := range fresh[from:min(from+seedBatch, len(fresh))] {
				batch = append(batch, newSeedSession(id, now))
			}
			// In id order the inserts walk the id index from end to end,
			// within the pages SQLite keeps cached; in random order a big
			// batch keeps evicting and rereading them (17s instead of 14s).
			slices.SortFunc(batch, func(x, y auth.Session) int { return strings.Compare(x.ID, y.ID) })
			if err := imp.ImportSessions(ctx, batch); err != nil {
				return fmt.Errorf("seed sessions: %w", err)
			}
			made.Add(int64(len(batch)))
			show()
		}
	} else {
		// One commit each: several goroutines keep the single writer busy
		// while the others prepare their statement.
		err := parallel(ctx, sd.prog, len(fresh), 4, "", func(ctx context.Context, i int) error {
			s := newSeedSession(fresh[i], now)
			if _, err := store.CreateSession(ctx, &s, 0); err != nil {
				return fmt.Errorf("seed sessions: %w", err)
			}
			if made.Add(1)%256 == 0 {
				show()
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	rep.Sessions = int(made.Load())
	rep.SessionsS = time.Since(start).Seconds()
	return nil
}
