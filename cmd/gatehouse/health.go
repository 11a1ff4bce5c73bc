package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// clockSyncInterval is how often a node measures its clock against the
// database's. Clocks disciplined by NTP drift by well under a millisecond
// in that time; a clock stepped by hand is caught within it.
const clockSyncInterval = 10 * time.Second

// startClockSync measures svc's clock offset now and every
// clockSyncInterval, and returns a function that stops it. The first
// measurement happens before the node serves, so it never decides on an
// uncorrected clock while the database answers.
func startClockSync(svc *auth.Service, log *slog.Logger) (stop func()) {
	sync := func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := svc.SyncClock(ctx); err != nil && ctx.Err() == nil {
			log.Warn("measuring the clock against the database's", "err", err)
		}
	}
	sync(context.Background())
	return every(clockSyncInterval, sync)
}

// readiness is what /readyz checks: the store answers and is migrated, the
// node's clock is within --max-clock-skew of the database's, and an SQLite
// database's file system has the headroom it needs to checkpoint.
func readiness(store auth.Store, svc *auth.Service, minFree uint64) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := store.Ready(ctx); err != nil {
			return err
		}
		if err := svc.ClockReady(); err != nil {
			return err
		}
		if d, ok := store.(auth.DiskStore); ok {
			return diskReady(d.FreeBytes, minFree)
		}
		return nil
	}
}

// errLowDisk is what /readyz reports below the free-space threshold.
var errLowDisk = errors.New("low disk space")

// diskReady fails when free() is below minFree or cannot be read.
func diskReady(free func() (uint64, error), minFree uint64) error {
	n, err := free()
	if err != nil {
		return err
	}
	if n < minFree {
		return fmt.Errorf("%w: %d bytes free, --sqlite-min-free-mib wants %d", errLowDisk, n, minFree)
	}
	return nil
}

// diskFree is the free-space source of the metrics: the store's folder
// (auth.DiskStore), or nil for a database on another host.
func diskFree(store auth.Store) func() (uint64, error) {
	if d, ok := store.(auth.DiskStore); ok {
		return d.FreeBytes
	}
	return nil
}
