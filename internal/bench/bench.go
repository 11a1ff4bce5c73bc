// Package bench is gatehouse bench: it measures the service under
// closed-loop load on this machine and reports req/s, latency, CPU and
// memory per scenario and concurrency. cmd/gatehouse parses the flags into
// a Config and hands over, as a Binary, what only the program knows: its
// own path (the servers are child processes of it) and how it opens a
// database.
//
// The pieces, one job each: runner (run.go) measures the cells in order;
// servers (servers.go) starts and stops the child processes; api (api.go)
// makes the HTTP calls that scenarios.go times; setup.go readies the
// sessions the scenarios use, seed.go fills the database, flood.go and
// report.go measure the flood and print the result (internal/loadgen does
// the load itself).
package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/loadgen"
	"github.com/gatehouse/gatehouse/internal/password"
)

// Scenarios are the scenarios, in the order the table shows them: each
// reference right before what is compared with it.
var Scenarios = []string{"baseline", "verify", "me", "argon2", "register", "sign_in",
	"forgot_known", "forgot_unknown", "refresh", "sign_out"}

const (
	// benchPassword is every benchmark user's password: long enough, not a
	// common password, and never any email's local part.
	benchPassword = "gatehouse-bench-Pw-7f3k9q"
	// requestTimeout bounds one request; serve's WriteTimeout is 30s.
	requestTimeout = 30 * time.Second
)

// Config is one run of gatehouse bench, as its flags set it; the command
// has checked it.
type Config struct {
	URL       string // a running loopback server to load; "" starts one
	API       string // the API of the server at URL: one of APIs
	DB        string // database of the server the bench starts; "" is SQLite in a temporary folder
	Levels    []int
	Duration  time.Duration
	Warmup    time.Duration
	Scenarios map[string]bool
	JSONPath  string
	SeedUsers int
	Flood     int
	HashSlots int
	HashWait  time.Duration
	Command   string // the command line that reproduces the run, for the report
}

func (c *Config) ownServer() bool { return c.URL == "" }

// Binary is what the bench needs of the gatehouse program, which it runs as
// its servers: the executable's path and environment, and how the program
// opens (creating and migrating) a database, redacts its name for print and
// refreshes its statistics after a bulk load.
type Binary struct {
	Path      string   // run as "PATH serve …" and "PATH bench-baseline"
	Env       []string // the servers' environment
	OpenStore func(ctx context.Context, dsn string) (auth.Store, error)
	RedactDSN func(dsn string) string
	Analyze   func(ctx context.Context, store auth.Store) error
}

// Run measures everything cfg selects, printing progress to stderr and the
// report to stdout (and to cfg.JSONPath as JSON).
func Run(ctx context.Context, cfg *Config, bin Binary, stdout, stderr io.Writer) error {
	tmp, err := os.MkdirTemp("", "gatehouse-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	prog := loadgen.NewStatus(stderr)
	client := loadgen.NewClient(max(slices.Max(cfg.Levels), cfg.Flood), requestTimeout)
	runID := strconv.FormatUint(rand.Uint64()>>24, 36)
	r := &runner{
		cfg:    cfg,
		bin:    bin,
		stdout: stdout,
		prog:   prog,
		tmp:    tmp,
		runID:  runID,
		hasher: password.NewHasher(password.DefaultParams()),
		api:    &api{client: client, kind: cfg.API},
		srv:    &servers{bin: bin, tmp: tmp, prog: prog, client: client},
		cells:  map[cellKey]loadgen.Result{},
	}
	defer r.srv.close()
	err = r.run(ctx)
	prog.Clear()
	if err != nil {
		return fmt.Errorf("bench: %w%s", err, r.srv.logTail())
	}
	return nil
}
