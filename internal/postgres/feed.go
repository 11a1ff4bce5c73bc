package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// Timing of a Listener. idleTimeout bounds how long the connection may be
// silent before it is tested with a ping, and pingTimeout how long that
// ping may take; together they bound how late a dead connection is noticed
// (750 ms), which is how long this node can keep trusting a cache that
// other nodes' changes no longer reach: under the 1 s revocation promise. A failed connection is retried after
// minBackoff, doubling up to maxBackoff.
const (
	idleTimeout    = 250 * time.Millisecond
	pingTimeout    = 500 * time.Millisecond
	minBackoff     = 100 * time.Millisecond
	maxBackoff     = 2 * time.Second
	connectTimeout = 5 * time.Second // unless the URL sets connect_timeout
	closeTimeout   = time.Second
)

// maxPayloadLog is how much of a malformed payload is logged.
const maxPayloadLog = 200

// Listener follows the change feed (see the package comment) on one
// dedicated connection, outside any pool, and reports what it hears and
// whether it can currently hear at all.
type Listener struct {
	url      string
	onChange func(id string, gen int64, revoked bool)
	onHealth func(healthy bool)
	log      *slog.Logger
}

// NewListener returns a Listener for the database at url. onChange is
// called for every announced change, in commit order; onHealth with true
// once LISTEN is in place (after the first connect and after every
// reconnect) and with false as soon as changes may be missed, only when the
// state changes. Both are called from Run's goroutine, never concurrently,
// and should return quickly: while they run, nothing is read. The
// connection's application_name is "gatehouse-listener" unless url sets
// one. A nil logger discards.
func NewListener(url string, onChange func(id string, gen int64, revoked bool), onHealth func(healthy bool), logger *slog.Logger) *Listener {
	if onHealth == nil {
		onHealth = func(bool) {}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Listener{url: url, onChange: onChange, onHealth: onHealth, log: logger}
}

// Run listens until ctx is done, reconnecting with backoff whenever the
// connection fails, and then returns nil. It reports unhealthy when it
// starts (nothing is heard before LISTEN succeeds) and when it returns. It
// returns early only if url cannot be parsed. Run must not be called
// concurrently with itself.
func (l *Listener) Run(ctx context.Context) error {
	cfg, err := pgx.ParseConfig(l.url)
	if err != nil {
		l.onHealth(false)
		return fmt.Errorf("postgres: listener: %w", err)
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "gatehouse-listener"
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = connectTimeout
	}

	h := health{report: l.onHealth}
	h.set(false)
	defer h.set(false)
	backoff := minBackoff
	for {
		listened, err := l.listen(ctx, cfg, &h)
		h.set(false)
		if ctx.Err() != nil {
			return nil
		}
		if listened {
			backoff = minBackoff
		}
		l.log.Warn("postgres: change feed down, reconnecting", "err", err, "retry_in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// listen connects, LISTENs and delivers notifications until the connection
// fails, cannot be shown to be alive, or ctx is done. listened reports
// whether it got as far as LISTEN.
func (l *Listener) listen(ctx context.Context, cfg *pgx.ConnConfig, h *health) (listened bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, err
	}
	defer func() {
		// Bounded: on a dead network, Close's goodbye message could block.
		cctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		conn.Close(cctx)
		cancel()
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return false, err
	}
	h.set(true)
	for {
		wctx, cancel := context.WithTimeout(ctx, idleTimeout)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if n != nil {
			l.deliver(n)
		}
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return true, ctx.Err()
		case pgconn.Timeout(err):
			// Silence proves nothing: a peer that vanished without closing
			// the TCP connection (a crashed host, a partition) is silent
			// too. Ask the server to answer. Notifications that arrive
			// meanwhile are buffered by pgx and returned by the next wait.
			if err := ping(ctx, conn); err != nil {
				return true, fmt.Errorf("ping: %w", err)
			}
		default:
			return true, err
		}
	}
}

func ping(ctx context.Context, conn *pgx.Conn) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	_, err := conn.Exec(ctx, "SELECT 1")
	return err
}

// deliver hands one notification to onChange, or logs why it cannot.
func (l *Listener) deliver(n *pgconn.Notification) {
	if n.Channel != notifyChannel {
		return
	}
	id, gen, revoked, ok := parsePayload(n.Payload)
	if !ok {
		p := n.Payload
		if len(p) > maxPayloadLog {
			p = p[:maxPayloadLog]
		}
		l.log.Warn("postgres: ignoring malformed change notification", "payload", p)
		return
	}
	l.onChange(id, gen, revoked)
}

// maxSessionIDLen bounds the id in a payload; real ids are 36-byte UUIDs.
const maxSessionIDLen = 64

// parsePayload parses "<session id> <generation> <0|1>": an id of
// printable ASCII without spaces, a non-negative decimal generation, and 1
// for a revocation.
func parsePayload(p string) (id string, gen int64, revoked, ok bool) {
	id, rest, ok1 := strings.Cut(p, " ")
	genText, flag, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || id == "" || len(id) > maxSessionIDLen {
		return "", 0, false, false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return "", 0, false, false
		}
	}
	gen, err := strconv.ParseInt(genText, 10, 64)
	if err != nil || gen < 0 || strconv.FormatInt(gen, 10) != genText {
		return "", 0, false, false
	}
	switch flag {
	case "0":
	case "1":
		revoked = true
	default:
		return "", 0, false, false
	}
	return id, gen, revoked, true
}

// health reports changes of a listener's health, and only changes, so that
// the receiver (which empties a cache on true) is not called needlessly.
type health struct {
	report  func(bool)
	known   bool
	healthy bool
}

func (h *health) set(healthy bool) {
	if h.known && h.healthy == healthy {
		return
	}
	h.known, h.healthy = true, healthy
	h.report(healthy)
}

// FollowChanges runs a Listener on the store's database, reporting to
// sink: the store's auth.FeedStore.
func (s *Store) FollowChanges(ctx context.Context, sink auth.FeedSink, log *slog.Logger) {
	l := NewListener(s.pool.Config().ConnString(), sink.SessionChanged, sink.SetFeedHealthy, log)
	if err := l.Run(ctx); err != nil {
		l.log.Error("change feed stopped", "err", err)
	}
}
