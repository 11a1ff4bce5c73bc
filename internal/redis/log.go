package redis

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// SetLogger sends go-redis's own messages (connection-pool and protocol
// trouble, which it otherwise prints as plain text to stderr) to log at
// warn level, so that a JSON log stays one JSON object per line. go-redis
// has one logger per process, not one per client: call this once, from
// main's wiring.
func SetLogger(log *slog.Logger) { goredis.SetLogger(slogPrinter{log}) }

type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Printf(ctx context.Context, format string, v ...any) {
	p.log.WarnContext(ctx, strings.TrimSpace(fmt.Sprintf(format, v...)), "component", "go-redis")
}
