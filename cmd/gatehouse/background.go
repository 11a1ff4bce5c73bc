package main

import (
	"context"
	"time"
)

// background runs fn in a goroutine and returns a function that cancels
// fn's context and waits for fn to return: a node's background work
// (change feed, pruner, clock sync, key reloads) must be finished before
// the connections it uses are closed.
func background(fn func(ctx context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(ctx)
	}()
	return func() { cancel(); <-done }
}

// every runs fn every interval in the background until stopped (see
// background); the caller runs it once first if the node needs its
// result before it serves.
func every(interval time.Duration, fn func(ctx context.Context)) (stop func()) {
	return background(func(ctx context.Context) {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				fn(ctx)
			}
		}
	})
}
