package bench

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/loadgen"
	"github.com/gatehouse/gatehouse/internal/password"
)

const (
	// signOutRate is the sign-out rate (per second) the sessions prepared
	// for a sign_out cell are sized for: a little over the 2,000/s target,
	// because each costs a commit to make. A faster server runs out early
	// and its cell is simply shorter.
	signOutRate = 2500
	// sessionsPerUser spreads prepared sessions over users, well below the
	// server's per-user cap, so no sign-in evicts another's session.
	sessionsPerUser = 10
)

// cheapParams hash the passwords of the users that the bench signs in
// itself to make sessions: the cheapest argon2id allowed, because those
// sign-ins are setup, not measurement.
var cheapParams = password.Params{Memory: 8, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// prepareTarget readies what the scenarios load: nothing when only
// baseline and argon2 run, else the server the bench starts (its database
// filled first) or the one at --url.
func (r *runner) prepareTarget(ctx context.Context) error {
	cfg := r.cfg
	switch {
	case !r.needsGatehouse():
		r.report.Target = "none (only baseline and argon2 selected)"
		return nil
	case !cfg.ownServer():
		r.api.base = cfg.URL
		r.report.Target = cfg.URL
		if cfg.API != "gatehouse" {
			r.report.Target += " (" + cfg.API + " API)"
		}
		return r.prepareOverHTTP(ctx)
	}
	r.dsn = cmp.Or(cfg.DB, "sqlite:"+filepath.Join(r.tmp, "bench.db"))
	r.report.Target = "child process: gatehouse serve"
	r.report.Database = r.bin.RedactDSN(r.dsn)
	if cfg.DB == "" {
		r.report.Database = "sqlite (temporary folder)"
	}
	if err := r.prepareInProcess(ctx); err != nil {
		return err
	}
	idle, err := r.startServerIdle(ctx)
	if err != nil {
		return err
	}
	r.report.Memory = &memoryReport{IdleRSS: idle.RSS}
	return nil
}

// sessionsWanted is how many ready sessions the selected scenarios need:
// one per worker for verify and me, one per worker for refresh (chained
// from level to level), and a fresh one per request for sign_out.
func (r *runner) sessionsWanted() (access, refresh int, signOut map[int]int) {
	maxC := slices.Max(r.cfg.Levels)
	if r.cfg.Scenarios["verify"] || r.cfg.Scenarios["me"] {
		access = maxC
	}
	if r.cfg.Scenarios["refresh"] {
		refresh = maxC
	}
	signOut = map[int]int{}
	if r.cfg.Scenarios["sign_out"] {
		window := (r.cfg.Warmup + r.cfg.Duration).Seconds()
		for _, c := range r.cfg.Levels {
			signOut[c] = max(int(window*signOutRate), 10*c)
		}
	}
	return access, refresh, signOut
}

// prepareInProcess fills the database before the server starts: the
// seeded users (the sign-in pool), and the sessions the scenarios need,
// made by signing in, in this process, users whose password hashes are
// cheap. The server is given the same root secret (a key file made for the
// run), so it accepts those sessions' tokens.
func (r *runner) prepareInProcess(ctx context.Context) error {
	key := make([]byte, 32)
	rand.Read(key)
	// The run's own folder holds the key, so a plain owner-only write is
	// enough: nothing else races for the name.
	r.keyFile = filepath.Join(r.tmp, "bench.key")
	if err := os.WriteFile(r.keyFile, key, 0o600); err != nil {
		return err
	}
	store, err := r.bin.OpenStore(ctx, r.dsn)
	if err != nil {
		return err
	}
	defer store.Close()
	r.fx.users = r.cfg.SeedUsers
	r.fx.email = func(i int) string { return fmt.Sprintf("user%d@bench.example.com", i) }
	if r.cfg.SeedUsers > 0 {
		sd := &seeder{prog: r.prog, hasher: r.hasher, email: r.fx.email, dbName: r.bin.RedactDSN(r.dsn), analyze: r.bin.Analyze}
		seed, err := sd.seed(ctx, store, r.cfg.SeedUsers)
		if err != nil {
			return err
		}
		r.report.Seed = seed
	}

	access, refresh, signOut := r.sessionsWanted()
	n := access + refresh
	for _, s := range signOut {
		n += s
	}
	if n == 0 {
		return nil
	}
	const workers = 4
	svc, err := auth.NewService(auth.Config{
		Store: store, Key: key, Hasher: password.NewHasher(cheapParams),
		HashLimiter: password.NewLimiter(workers, time.Minute), MaxSessionsPerUser: 2 * sessionsPerUser,
	})
	if err != nil {
		return err
	}
	start := time.Now()
	grants, err := r.mintSessions(ctx, svc, n, workers)
	if err != nil {
		return err
	}
	r.report.Setup = append(r.report.Setup, fmt.Sprintf("%d sessions for verify, me, refresh and sign_out made in-process in %v (%.0f/s)",
		n, time.Since(start).Round(time.Millisecond), float64(n)/time.Since(start).Seconds()))
	r.hand(grants, signOut)
	return nil
}

// mintSessions makes n sessions in process with svc: users registered with
// cheap hashes, each then signed in up to sessionsPerUser times.
func (r *runner) mintSessions(ctx context.Context, svc *auth.Service, n, workers int) ([]grantBody, error) {
	client := auth.Client{IP: "127.0.0.1", UserAgent: "gatehouse-bench"}
	users := (n + sessionsPerUser - 1) / sessionsPerUser
	var (
		mu     sync.Mutex
		grants []grantBody
		errs   = make([]error, workers)
		wg     sync.WaitGroup
		left   atomic.Int64
	)
	left.Store(int64(users))
	for w := range workers {
		wg.Go(func() {
			for u := left.Add(-1); u >= 0 && ctx.Err() == nil; u = left.Add(-1) {
				email := fmt.Sprintf("s%s-%d@bench.example.com", r.runID, u)
				g, err := svc.Register(ctx, auth.Registration{Email: email, Password: benchPassword, PasswordConfirmation: benchPassword, Client: client})
				batch := []grantBody{}
				for i := 0; err == nil; i++ {
					batch = append(batch, grantBody{Access: g.AccessToken, Refresh: g.RefreshToken})
					if i+1 == sessionsPerUser {
						break
					}
					g, err = svc.SignIn(ctx, auth.Credentials{Email: email, Password: benchPassword, Client: client})
				}
				if err != nil {
					errs[w] = fmt.Errorf("make sessions: %w", err)
					return
				}
				mu.Lock()
				grants = append(grants, batch...)
				done := len(grants)
				mu.Unlock()
				r.prog.Live("making sessions %d/%d", min(done, n), n)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(append(errs, ctx.Err())...); err != nil {
		return nil, err
	}
	return grants[:n], nil
}

// prepareOverHTTP readies a server at --url through its API: it registers
// the sign-in pool, and registers one fresh user for each session the other
// scenarios need. Not sessions of the pool: the sign_in scenario signs the
// pool in again and again, and a server that caps a user's sessions
// (Gatehouse keeps 20) would end the oldest, which a scenario still uses.
// Each costs a password hash on the server, so sign-out sessions are made
// for at most one cell's time per level; a sign_out cell ends when they
// run out.
func (r *runner) prepareOverHTTP(ctx context.Context) error {
	maxC := slices.Max(r.cfg.Levels)
	r.fx.users = maxC
	r.fx.email = func(i int) string { return fmt.Sprintf("user%d-%s@bench.example.com", i, r.runID) }
	access, refresh, signOut := r.sessionsWanted()
	start := time.Now()
	err := parallel(ctx, r.prog, maxC, r.cfg.HashSlots, "registering users", func(ctx context.Context, i int) error {
		return r.api.register(ctx, r.fx.email(i+1), nil)
	})
	if err != nil {
		return fmt.Errorf("register the sign-in pool at %s (is it running with --rate-limit=false?): %w", r.api.base, err)
	}
	grants := make([]grantBody, access+refresh)
	if err := r.registerMany(ctx, "registering users for sessions", grants); err != nil {
		return err
	}
	for _, c := range r.cfg.Levels {
		if signOut[c] == 0 {
			continue
		}
		made, err := r.registerFor(ctx, signOut[c], fmt.Sprintf("registering users for sign_out c=%d", c))
		if err != nil {
			return err
		}
		signOut[c] = len(made) // each level keeps what was made for it
		grants = append(grants, made...)
	}
	r.report.Setup = append(r.report.Setup, fmt.Sprintf("sign-in pool of %d users, and %d sessions of users of their own, made over HTTP in %v",
		maxC, len(grants), time.Since(start).Round(time.Millisecond)))
	r.hand(grants, signOut)
	return nil
}

// registerMany registers a fresh user for each element of out, decoding
// its session's tokens into it.
func (r *runner) registerMany(ctx context.Context, what string, out []grantBody) error {
	return parallel(ctx, r.prog, len(out), r.cfg.HashSlots, what, func(ctx context.Context, i int) error {
		return r.api.register(ctx, fmt.Sprintf("s%s-%d@bench.example.com", r.runID, r.fx.regSeq.Add(1)), &out[i])
	})
}

// registerFor registers up to n fresh users within one cell's time and
// returns the sessions it made: running out of time is not an error, the
// cell that uses them just ends sooner.
func (r *runner) registerFor(ctx context.Context, n int, what string) ([]grantBody, error) {
	out := make([]grantBody, n)
	budget, cancel := context.WithTimeout(ctx, r.cfg.Warmup+r.cfg.Duration)
	err := r.registerMany(budget, what, out)
	cancel()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return nil, err
	}
	var made []grantBody
	for _, g := range out {
		if g.Access != "" {
			made = append(made, g)
		}
	}
	return made, nil
}

// hand distributes ready sessions to the scenarios that need them, in the
// order sessionsWanted counts them; the sign_out cell of each level takes
// up to signOut of it (over HTTP, what was made for that level, which may
// be less than it wanted).
func (r *runner) hand(grants []grantBody, signOut map[int]int) {
	access, refresh, _ := r.sessionsWanted()
	take := func(n int) []grantBody {
		n = min(n, len(grants))
		g := grants[:n]
		grants = grants[n:]
		return g
	}
	for _, g := range take(access) {
		r.fx.access = append(r.fx.access, g.Access)
	}
	for _, g := range take(refresh) {
		r.fx.refresh = append(r.fx.refresh, g.Refresh)
	}
	r.fx.signOut = map[int][]string{}
	r.fx.next = map[int]*atomic.Int64{}
	for _, c := range r.cfg.Levels {
		for _, g := range take(signOut[c]) {
			r.fx.signOut[c] = append(r.fx.signOut[c], g.Access)
		}
		r.fx.next[c] = new(atomic.Int64)
	}
}

// parallel runs fn for 0..total-1 on workers goroutines, stopping at the
// first error, and shows progress as what, unless it is empty.
func parallel(ctx context.Context, prog *loadgen.Status, total, workers int, what string, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next, done atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, total) {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(total) && ctx.Err() == nil; i = next.Add(1) - 1 {
				if err := fn(ctx, int(i)); err != nil {
					cancel(err)
					return
				}
				if n := done.Add(1); what != "" {
					prog.Live("%s %d/%d", what, n, total)
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// startServerIdle starts the server on the run's database, points the
// API calls at it and returns its memory once it has settled, before any
// load.
func (r *runner) startServerIdle(ctx context.Context) (loadgen.Memory, error) {
	if err := r.srv.startGatehouse(ctx, r.dsn, r.keyFile, r.cfg); err != nil {
		return loadgen.Memory{}, err
	}
	r.api.base = r.srv.gatehouse.URL
	return r.srv.idleMemory(ctx, r.srv.gatehouse, r.cfg.Duration)
}
