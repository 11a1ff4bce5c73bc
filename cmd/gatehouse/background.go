package main

import "context"

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
