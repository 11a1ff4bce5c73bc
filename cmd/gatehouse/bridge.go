package main

import (
	"context"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/redis"
)

// openBridgeRedis connects to --jwt-sessions-redis, or returns nil without
// it. The Redis must answer at start (a wrong URL fails now, not on the
// first sign-in); later outages only delay the bridge.
func openBridgeRedis(ctx context.Context, cfg *Config) (*goredis.Client, error) {
	if cfg.JWTSessionsRedis == "" {
		return nil, nil
	}
	client, err := redis.Open(ctx, cfg.JWTSessionsRedis)
	if err != nil {
		return nil, fmt.Errorf("--jwt-sessions-redis: %w", err)
	}
	return client, nil
}
