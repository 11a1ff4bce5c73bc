package verifier_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/token"
	"github.com/gatehouse/gatehouse/verifier"
)

// TestResyncAfterPositionExpired: when Gatehouse answers 410 to the
// verifier's position, the verifier drops what it knew, vouches for
// nothing until the rebuilt backlog is in, and then knows only what the
// log still holds. A scripted Gatehouse: the first connection reports
// session A revoked at position 5 and ends; the reconnect after 5 is
// refused (pruned); the rebuild from the start reports B revoked at 1.
func TestResyncAfterPositionExpired(t *testing.T) {
	issuer, _ := token.NewIssuer(rootKey, time.Hour, 0)
	exp := time.Now().Add(time.Hour).Unix()
	tokenOf := func(sid string) string {
		tok, err := issuer.Issue(token.Claims{Exp: exp, UserID: 1, UID: token.NewUID(), RUID: sid})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	sidA, sidB := token.NewUID(), token.NewUID()
	a, b := tokenOf(sidA), tokenOf(sidB)

	var calls atomic.Int32
	var hold atomic.Bool
	release := make(chan struct{})
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		last := r.Header.Get("Last-Event-ID")
		switch {
		case n == 1 && last == "":
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprintf(w, "id: 5\nevent: revoked\ndata: {\"type\":\"revoked\",\"sid\":%q,\"gen\":0,\"exp\":%d}\n\nevent: heartbeat\ndata: {}\n\n", sidA, exp)
			w.(http.Flusher).Flush()
			<-release // the test has seen A refused
		case last == "5":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusGone)
			fmt.Fprint(w, `{"error":"Stream position expired","code":"position_expired"}`)
		case last == "" && hold.Load():
			w.WriteHeader(http.StatusServiceUnavailable)
		case last == "":
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprintf(w, "id: 1\nevent: revoked\ndata: {\"type\":\"revoked\",\"sid\":%q,\"gen\":0,\"exp\":%d}\n\nevent: heartbeat\ndata: {}\n\n", sidB, exp)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		default:
			t.Errorf("unexpected request %d with Last-Event-ID %q", n, last)
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	t.Cleanup(fake.Close)
	t.Cleanup(func() { fake.CloseClientConnections() })

	v, err := verifier.New(verifier.Config{URL: fake.URL, ServiceToken: "ghst_test", HS256Key: rootKey, MaxSilence: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); v.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	waitFor(t, "A revoked", 5*time.Second, func() bool { return revoked(v, a) })
	// Hold the rebuild's backlog: between the 410 and it, nothing is
	// vouched for, though the stream was heard well within MaxSilence.
	hold.Store(true)
	close(release)
	waitFor(t, "refusing during the rebuild", 5*time.Second, func() bool {
		_, err := v.Verify(a)
		return errors.Is(err, verifier.ErrStale)
	})
	hold.Store(false)
	waitFor(t, "B revoked after the resync", 5*time.Second, func() bool { return revoked(v, b) })
	if _, err := v.Verify(a); err != nil && !errors.Is(err, verifier.ErrStale) {
		t.Errorf("Verify(A) after the resync = %v; want it accepted (the rebuilt log no longer revokes A)", err)
	}
	if pos := v.Position(); pos != 1 {
		t.Errorf("Position() after the resync = %d, want 1", pos)
	}
}
