package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// TestRotationUnderLoad rotates the signing key while two nodes on one
// database verify and refresh live sessions as fast as they can: every
// request must succeed. The nodes reload the ring every 20ms and 150ms
// here (both 10s in production), out of step as real nodes are, and the
// test waits two of the slower reloads between add and activate: the
// publication rule at this scale. (Activating at once fails this test:
// the fast node signs with the key before the slow one knows it.)
func TestRotationUnderLoad(t *testing.T) {
	const sessions = 8
	reloads := []time.Duration{20 * time.Millisecond, 150 * time.Millisecond}
	c := newCLI(t)
	nodes := []*app{c.app(), c.app()}
	ctx := context.Background()
	for i, n := range nodes {
		cfg, _ := parseConfig("test", []string{"--db", c.db}, noEnv, io.Discard)
		log := newLogger(cfg, io.Discard)
		defer startFeed(n.store, n.svc, log)()
		defer n.followKeys("HS256", reloads[i], log)()
	}

	type sess struct{ access, refresh string }
	live := make([]sess, sessions)
	for i := range live {
		if _, err := nodes[0].svc.CreateUser(ctx, fmt.Sprintf("u%d@example.com", i), cliPassword); err != nil {
			t.Fatal(err)
		}
		g, err := nodes[0].svc.SignIn(ctx, auth.Credentials{Email: fmt.Sprintf("u%d@example.com", i), Password: cliPassword})
		if err != nil {
			t.Fatal(err)
		}
		live[i] = sess{g.AccessToken, g.RefreshToken}
	}

	var ops, failures atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var load sync.WaitGroup
	for i := range live {
		load.Go(func() {
			s := live[i]
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				node := nodes[n%2]
				var err error
				if n%3 == 2 { // on either node, in turn
					var g *auth.Grant
					if g, err = node.svc.Refresh(ctx, auth.RefreshRequest{RefreshToken: s.refresh}); err == nil {
						s = sess{g.AccessToken, g.RefreshToken}
					}
				} else {
					_, err = node.svc.Authenticate(ctx, s.access)
				}
				ops.Add(1)
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("session %d op %d on node %d: %v", i, n, n%2, err))
				}
			}
		})
	}

	time.Sleep(100 * time.Millisecond)
	out := c.mustRun("keys", "add")
	id := strings.TrimSuffix(strings.Fields(out)[3], ";")
	time.Sleep(2 * reloads[1])
	c.mustRun("keys", "activate", id, "--force")
	deadline := time.Now().Add(2 * time.Second)
	for nodes[0].keys.tokens.SignerID() != id || nodes[1].keys.tokens.SignerID() != id {
		if time.Now().After(deadline) {
			t.Fatalf("nodes sign with %q and %q 2s after activating %q", nodes[0].keys.tokens.SignerID(), nodes[1].keys.tokens.SignerID(), id)
		}
		time.Sleep(reloads[0])
	}
	time.Sleep(200 * time.Millisecond) // sessions move onto the new key
	close(stop)
	load.Wait()

	t.Logf("%d verifies and refreshes across the rotation, %d failed", ops.Load(), failures.Load())
	if failures.Load() != 0 {
		t.Errorf("%d of %d requests failed during the rotation; first: %v", failures.Load(), ops.Load(), firstErr.Load())
	}
	if ops.Load() < 100 {
		t.Errorf("only %d requests ran; the test proves little", ops.Load())
	}
}
