package verifier

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Reconnection backoff of the stream, and how often sessions whose
// tokens have all expired are dropped (a sweep of the whole map, under
// its write lock).
const (
	minBackoff  = 100 * time.Millisecond
	maxBackoff  = 2 * time.Second
	forgetEvery = time.Minute
)

func defaultClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 10 * time.Second,
	}}
}

// Run follows the revocation stream (and, without HS256Key, refreshes the
// JWKS) until ctx ends, reconnecting after failures from the last
// position. It returns ctx's error. Until the stream has delivered its
// backlog, every token is refused with ErrStale.
func (v *Verifier) Run(ctx context.Context) error {
	if !v.running.CompareAndSwap(false, true) {
		return errors.New("verifier: Run called twice")
	}
	if v.keys != nil {
		go v.keys.refreshEvery(ctx, v.cfg.JWKSRefresh)
	}
	backoff := minBackoff
	for {
		delivered, err := v.follow(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if delivered {
			backoff = minBackoff
		}
		v.cfg.Logger.Warn("verifier: revocation stream interrupted, reconnecting", "err", err, "position", v.pos.Load(), "retry_in", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// errResync is a 410: the position is gone, the state must be rebuilt.
var errResync = errors.New("position expired")

// follow reads one connection of the stream until it fails. delivered
// reports whether it got as far as a heartbeat.
func (v *Verifier) follow(ctx context.Context) (delivered bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.cfg.URL+"/v1/auth/revocations", nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+v.cfg.ServiceToken)
	req.Header.Set("Accept", "text/event-stream")
	if pos := v.pos.Load(); pos > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(pos, 10))
	}
	resp, err := v.cfg.Client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusGone:
		// Everything after our position was pruned: start over, and
		// vouch for nothing until the new backlog is in.
		v.cfg.Logger.Warn("verifier: stream position expired, rebuilding from the oldest change kept", "position", v.pos.Load())
		v.lastOK.Store(0)
		v.state.reset()
		v.pos.Store(0)
		return false, errResync
	case resp.StatusCode != http.StatusOK:
		return false, fmt.Errorf("GET /v1/auth/revocations: status %d", resp.StatusCode)
	}

	// A connection that stops carrying bytes (a partition, a hung proxy)
	// is dropped once it has been silent for MaxSilence: by then requests
	// are refused anyway, and a fresh connection may get through.
	watchdog := time.AfterFunc(v.cfg.MaxSilence, cancel)
	defer watchdog.Stop()
	caughtUp := false
	var lastForget time.Time
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 4096), 64<<10)
	var ev event
	for sc.Scan() {
		watchdog.Reset(v.cfg.MaxSilence)
		line := sc.Text()
		if line != "" {
			ev.field(line)
			continue
		}
		switch ev.name {
		case "heartbeat":
			// Everything up to now has been applied.
			caughtUp, delivered = true, true
			now := v.cfg.Now()
			v.lastOK.Store(now.UnixNano())
			if now.Sub(lastForget) >= forgetEvery {
				v.state.forget(now)
				lastForget = now
			}
		case "revoked", "rotated":
			if err := v.apply(ev); err != nil {
				return delivered, err
			}
			if caughtUp {
				v.lastOK.Store(v.cfg.Now().UnixNano())
			}
		}
		ev = event{}
	}
	if err := sc.Err(); err != nil {
		return delivered, err
	}
	return delivered, errors.New("stream ended")
}

// event is one Server-Sent Event being read.
type event struct {
	id, name string
	data     []byte
}

func (e *event) field(line string) {
	name, value, _ := strings.Cut(line, ":")
	value = strings.TrimPrefix(value, " ")
	switch name {
	case "id":
		e.id = value
	case "event":
		e.name = value
	case "data":
		e.data = append(e.data, value...)
	}
}

// apply records a revoked or rotated event and advances the position.
func (v *Verifier) apply(ev event) error {
	pos, err := strconv.ParseInt(ev.id, 10, 64)
	if err != nil || pos <= v.pos.Load() {
		return fmt.Errorf("event with position %q after %d", ev.id, v.pos.Load())
	}
	var d struct {
		SID         string `json:"sid"`
		UID         string `json:"uid"`
		Exp         int64  `json:"exp"`
		PrevUID     string `json:"prev_uid"`
		PrevUntilMS int64  `json:"prev_until_ms"`
	}
	if err := json.Unmarshal(ev.data, &d); err != nil || d.SID == "" {
		return fmt.Errorf("event %d: malformed data", pos)
	}
	s := &session{revoked: ev.name == "revoked", uid: d.UID, prevUID: d.PrevUID, exp: d.Exp}
	if d.PrevUntilMS > 0 {
		s.prevUntil = time.UnixMilli(d.PrevUntilMS)
	}
	v.state.apply(d.SID, s)
	v.pos.Store(pos)
	return nil
}
