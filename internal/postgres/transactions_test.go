package postgres

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pquerna/otp/totp"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/passkey"
	"github.com/gatehouse/gatehouse/internal/password"
)

// txCounter is a pgx tracer that counts the transactions the statements
// it sees make: an explicit BEGIN ... COMMIT is one, a statement outside
// one is one, a pipelined batch is one, and a transaction that inserts, updates or deletes (also in
// a CTE, also a function that does) is a write. It assumes one statement
// at a time, which the test below guarantees.
type txCounter struct {
	mu         sync.Mutex
	inTx, wrTx bool
	txs, reads int
	writes     int
	statements []string
}

var writing = regexp.MustCompile(`(?i)\b(INSERT\s+INTO|UPDATE\s+\w+\s+(\w+\s+)?SET|DELETE\s+FROM|counter_admit)\b`)

func (c *txCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	sql := strings.ToLower(strings.TrimSpace(d.SQL))
	c.statements = append(c.statements, strings.Join(strings.Fields(d.SQL), " "))
	switch {
	case strings.HasPrefix(sql, "begin"):
		c.inTx, c.wrTx = true, false
	case sql == "commit" || sql == "rollback":
		c.inTx = false
		c.end(c.wrTx)
	case c.inTx:
		c.wrTx = c.wrTx || writing.MatchString(d.SQL)
	default:
		c.end(writing.MatchString(d.SQL))
	}
	return ctx
}

func (c *txCounter) end(wrote bool) {
	c.txs++
	if wrote {
		c.writes++
	} else {
		c.reads++
	}
}

func (*txCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// A batch is one transaction, the implicit one its single Sync ends.
func (c *txCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.statements = append(c.statements, "<batch>")
	c.inTx, c.wrTx = true, false
	return ctx
}

func (c *txCounter) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.statements = append(c.statements, strings.Join(strings.Fields(d.SQL), " "))
	c.wrTx = c.wrTx || writing.MatchString(d.SQL)
}

func (c *txCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.statements = append(c.statements, "</batch>")
	c.inTx = false
	c.end(c.wrTx)
}

// reset returns the counts so far and starts again.
func (c *txCounter) reset() (txs, writes int, statements []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	txs, writes, statements = c.txs, c.writes, c.statements
	c.txs, c.reads, c.writes, c.statements = 0, 0, 0, nil
	return txs, writes, statements
}

// countedService is a Service on a fresh migrated database whose
// statements counter sees.
func countedService(t *testing.T) (*auth.Service, *Store, *txCounter) {
	t.Helper()
	_, dbURL := newTestStore(t) // migrated
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	counter := &txCounter{}
	cfg.ConnConfig.Tracer = counter
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	st := &Store{pool: pool}
	svc, err := auth.NewService(auth.Config{
		Store:       st,
		Key:         []byte("0123456789abcdef0123456789abcdef"),
		Hasher:      password.NewHasher(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}),
		HashLimiter: password.NewLimiter(1, time.Second),
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc, st, counter
}

// wireSecondFactors registers TOTP, recovery codes and passkeys as a
// serving node does (cmd/gatehouse: secondFactors, newPasskeys).
func wireSecondFactors(t *testing.T, svc *auth.Service, st *Store) *mfa.Service {
	t.Helper()
	m, err := mfa.New(mfa.Config{Auth: svc, Store: st, Key: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	svc.AddSecondFactor(m.TOTPFactor())
	svc.AddSecondFactor(m.RecoveryFactor())
	if _, err := passkey.New(svc, st, passkey.Config{RPID: "example.com", Origins: []string{"https://example.com"}}); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestTransactionsPerRequest counts the database transactions of each hot
// flow on a node whose session cache holds the session, as it does in
// steady state (the budget in docs/benchmarks.md, "Work per request"):
// every change of a flow (the session row, its change-log row, its
// notification, a sign-in's evictions) is one transaction, and a flow
// reads no more than its table row says. Rate-limit counters are left out
// (they are the Counter's, one statement per operation, and may live in
// Redis): the service here counts in memory. The budget holds with
// second factors wired as a serving node wires them, for the user without
// one (most users): the hint on the user row spares the factor reads.
func TestTransactionsPerRequest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		wired bool
	}{
		{name: "without_second_factors", wired: false},
		{name: "second_factors_wired", wired: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc, st, counter := countedService(t)
			if tc.wired {
				wireSecondFactors(t, svc, st)
			}
			checkTransactionsPerRequest(t, svc, counter)
		})
	}
}

func checkTransactionsPerRequest(t *testing.T, svc *auth.Service, counter *txCounter) {
	ctx := t.Context()
	client := auth.Client{IP: "203.0.113.7", UserAgent: "test"}
	const email, pw = "ada@example.com", "correct horse battery"
	if _, err := svc.Register(ctx, auth.Registration{Email: email, Password: pw, PasswordConfirmation: pw, Client: client}); err != nil {
		t.Fatal(err)
	}

	var g *auth.Grant
	var p *auth.Principal
	flows := []struct {
		name             string
		run              func() error
		txs, writes, max int // want writes exactly, txs at most max
	}{
		{name: "sign_in", writes: 1, max: 2, run: func() (err error) {
			// The user by email, then the session insert with its cap
			// (one batch).
			g, err = svc.SignIn(ctx, auth.Credentials{Email: email, Password: pw, Client: client})
			return err
		}},
		{name: "verify", writes: 0, max: 0, run: func() (err error) {
			p, err = svc.Authenticate(ctx, g.AccessToken)
			return err
		}},
		{name: "refresh", writes: 1, max: 1, run: func() (err error) {
			// The compare-and-swap alone: the node holds the session
			// and its user in its cache.
			g, err = svc.Refresh(ctx, auth.RefreshRequest{RefreshToken: g.RefreshToken, Client: client})
			return err
		}},
		{name: "refresh_again", writes: 1, max: 1, run: func() (err error) {
			g, err = svc.Refresh(ctx, auth.RefreshRequest{RefreshToken: g.RefreshToken, Client: client})
			return err
		}},
		{name: "verify_after_refresh", writes: 0, max: 0, run: func() (err error) {
			p, err = svc.Authenticate(ctx, g.AccessToken)
			return err
		}},
		{name: "sign_out", writes: 1, max: 1, run: func() error { return svc.SignOut(ctx, p, client) }},
	}
	counter.reset()
	for _, f := range flows {
		if err := f.run(); err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		txs, writes, statements := counter.reset()
		t.Logf("%s: %d transactions (%d writing), statements: %q", f.name, txs, writes, statements)
		if writes != f.writes || txs > f.max {
			t.Errorf("%s: %d transactions, %d of them writing; want %d writing, at most %d in all", f.name, txs, writes, f.writes, f.max)
		}
	}
}

// TestTransactionsPerRequest_SecondFactorUser: with factors wired, a user
// with TOTP still gets a pending sign-in (the API's mfa_required), after
// the factor reads the hint on the user row asks for.
func TestTransactionsPerRequest_SecondFactorUser(t *testing.T) {
	t.Parallel()
	svc, st, counter := countedService(t)
	m := wireSecondFactors(t, svc, st)
	ctx := t.Context()
	client := auth.Client{IP: "203.0.113.7", UserAgent: "test"}
	const email, pw = "ada@example.com", "correct horse battery"
	g, err := svc.Register(ctx, auth.Registration{Email: email, Password: pw, PasswordConfirmation: pw, Client: client})
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Authenticate(ctx, g.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	enrolment, err := m.EnrolTOTP(ctx, p)
	if err != nil {
		t.Fatalf("EnrolTOTP = %v", err)
	}
	code, err := totp.GenerateCode(enrolment.Secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.ConfirmTOTP(ctx, p, code, client); err != nil {
		t.Fatalf("ConfirmTOTP = %v", err)
	}

	counter.reset()
	g, err = svc.SignIn(ctx, auth.Credentials{Email: email, Password: pw, Client: client})
	if err != nil {
		t.Fatalf("SignIn = %v", err)
	}
	txs, writes, statements := counter.reset()
	t.Logf("sign_in with TOTP: %d transactions (%d writing), statements: %q", txs, writes, statements)
	if !slices.Contains(g.SecondFactors, auth.MethodTOTP) {
		t.Errorf("SignIn of a user with TOTP: SecondFactors = %q, want totp among them (mfa_required)", g.SecondFactors)
	}
	if p, err := svc.Authenticate(ctx, g.AccessToken); err != nil || !p.Pending {
		t.Errorf("Authenticate(the sign-in's token) = %+v, %v; want a pending principal", p, err)
	}
	if writes != 1 {
		t.Errorf("sign_in with TOTP: %d writing transactions, want 1 (the pending session)", writes)
	}
}
