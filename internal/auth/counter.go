package auth

import (
	"context"
	"time"
)

// Counter keeps fixed-window event counts shared by every node that uses
// the same backend: the basis of rate limits and per-account back-off.
// In-process for the embedded default, Redis or PostgreSQL for several
// nodes, so that N nodes enforce one summed limit, not N limits.
type Counter interface {
	// Incr adds one to key's count and returns the new count and when the
	// current window ends. A window starts at the first Incr after the
	// previous one ended and lasts window.
	Incr(ctx context.Context, key string, window time.Duration) (count int64, resetAt time.Time, err error)
	// Count returns key's count in its current window (0 if none).
	Count(ctx context.Context, key string) (count int64, resetAt time.Time, err error)
	// Reset forgets key.
	Reset(ctx context.Context, key string) error
}
