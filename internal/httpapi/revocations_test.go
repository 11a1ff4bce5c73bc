package httpapi_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// sseEvent is one Server-Sent Event as a follower sees it.
type sseEvent struct {
	id, name, data string
}

// revocationData is the JSON of a revoked or rotated event.
type revocationData struct {
	Type        string `json:"type"`
	SID         string `json:"sid"`
	Gen         int64  `json:"gen"`
	UID         string `json:"uid"`
	Exp         int64  `json:"exp"`
	PrevUID     string `json:"prev_uid"`
	PrevUntilMS int64  `json:"prev_until_ms"`
}

// openStream opens GET /v1/auth/revocations with the service token and
// position headers given. The 200 stream never ends, so it cannot go
// through ts.do (which reads the whole body to validate it against
// openapi.json); its status and headers are checked here instead, and its
// error answers go through ts.do in TestRevocationsRefused.
func (ts *testServer) openStream(t *testing.T, token, query string, header map[string]string) (next func() sseEvent) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", ts.url+"/v1/auth/revocations"+query, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		t.Fatalf("GET /v1/auth/revocations: %v", err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET /v1/auth/revocations: got %d %q %q, want 200 text/event-stream no-store",
			resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
	}
	events := make(chan sseEvent, 100)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		var e sseEvent
		for sc.Scan() {
			line := sc.Text()
			if line == "" {
				if e.name != "" {
					events <- e
				}
				e = sseEvent{}
				continue
			}
			field, value, _ := strings.Cut(line, ": ")
			switch field {
			case "id":
				e.id = value
			case "event":
				e.name = value
			case "data":
				e.data = value
			}
		}
	}()
	return func() sseEvent {
		t.Helper()
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatal("revocation stream ended")
			}
			return e
		case <-time.After(5 * time.Second):
			t.Fatal("no event on the revocation stream within 5 s")
		}
		return sseEvent{}
	}
}

// nextChange skips heartbeats.
func nextChange(t *testing.T, next func() sseEvent) (sseEvent, revocationData) {
	t.Helper()
	for {
		e := next()
		if e.name == "heartbeat" {
			continue
		}
		var d revocationData
		if err := json.Unmarshal([]byte(e.data), &d); err != nil {
			t.Fatalf("event %q data %q: %v", e.name, e.data, err)
		}
		if d.Type != e.name {
			t.Errorf("event %q carries type %q", e.name, d.Type)
		}
		return e, d
	}
}

func (ts *testServer) serviceToken(t *testing.T) string {
	t.Helper()
	secret, _, err := ts.svc.CreateServiceToken(t.Context(), "test")
	if err != nil {
		t.Fatalf("CreateServiceToken: %v", err)
	}
	return secret
}

// TestRevocationsStream: a follower sees a refresh retire the previous
// access token (after the grace) and a sign-out revoke the session, in
// commit order, and resumes after a position with Last-Event-ID or ?after=.
func TestRevocationsStream(t *testing.T) {
	ts := newServer(t, serverOptions{streamHeartbeat: 20 * time.Millisecond})
	token := ts.serviceToken(t)
	next := ts.openStream(t, token, "", nil)
	if e := next(); e.name != "heartbeat" {
		t.Errorf("first event on a quiet stream = %+v; want a heartbeat", e)
	}

	ts.register(t, "stream@example.com", "correct horse battery")
	script := ts.signInTokens(t, "stream@example.com", "correct horse battery")
	before := claimsOf(t, script.access)
	refreshed := tokensOf(t, ts.do(t, byRefreshToken(script)), http.StatusOK)
	after := claimsOf(t, refreshed.access)
	rotated, d := nextChange(t, next)
	want := revocationData{Type: "rotated", SID: before.RUID, Gen: 1, UID: after.UID, Exp: after.Exp,
		PrevUID: before.UID, PrevUntilMS: ts.clock.Now().Add(refreshGrace).UnixMilli()}
	if d != want {
		t.Errorf("after a refresh: got %+v, want %+v", d, want)
	}

	ts.do(t, refreshed.viaHeader("DELETE", "/v1/auth/sign_out"))
	revoked, d := nextChange(t, next)
	if want := (revocationData{Type: "revoked", SID: before.RUID, Gen: 1, Exp: after.Exp}); d != want {
		t.Errorf("after sign-out: got %+v, want %+v", d, want)
	}
	if r, o := mustAtoi(t, revoked.id), mustAtoi(t, rotated.id); r <= o {
		t.Errorf("positions %q then %q; want increasing", rotated.id, revoked.id)
	}

	for _, tc := range []struct {
		name   string
		query  string
		header map[string]string
		want   string
	}{
		{"LastEventID", "", map[string]string{"Last-Event-ID": rotated.id}, revoked.id},
		{"After", "?after=" + rotated.id, nil, revoked.id},
		{"LastEventIDWins", "?after=0", map[string]string{"Last-Event-ID": rotated.id}, revoked.id},
		{"NoPosition", "", nil, rotated.id}, // the oldest change kept
	} {
		t.Run(tc.name, func(t *testing.T) {
			if e, _ := nextChange(t, ts.openStream(t, token, tc.query, tc.header)); e.id != tc.want {
				t.Errorf("first change = %+v, want position %s", e, tc.want)
			}
		})
	}
}

// TestRevocationsRefused: the stream is for live service tokens only, and
// a position it cannot resume from says so.
func TestRevocationsRefused(t *testing.T) {
	ts := newServer(t, serverOptions{})
	token := ts.serviceToken(t)
	revokedToken := ts.serviceToken(t)
	if err := ts.svc.RevokeServiceToken(t.Context(), 2); err != nil {
		t.Fatal(err)
	}
	user := ts.register(t, "user@example.com", "correct horse battery")
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	for _, tc := range []struct {
		name     string
		path     string
		header   map[string]string
		status   int
		wantCode string
	}{
		{"NoToken", "/v1/auth/revocations", nil, 401, "not_authorized"},
		{"UnknownToken", "/v1/auth/revocations", bearer("ghst_" + strings.Repeat("A", 43)), 401, "not_authorized"},
		{"RevokedToken", "/v1/auth/revocations", bearer(revokedToken), 401, "not_authorized"},
		{"UserAccessToken", "/v1/auth/revocations", bearer(user.access), 401, "not_authorized"},
		{"PositionNotANumber", "/v1/auth/revocations?after=x", bearer(token), 400, "bad_request"},
		{"NegativePosition", "/v1/auth/revocations", withHeaders(bearer(token), "Last-Event-ID", "-1"), 400, "bad_request"},
		{"PositionNeverReached", "/v1/auth/revocations?after=1000", bearer(token), 410, "position_expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, ts.do(t, request{method: "GET", path: tc.path, header: tc.header}), tc.status, tc.wantCode)
		})
	}
}

func mustAtoi(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("event id %q: %v", s, err)
	}
	return n
}

// TestRevocationsServiceTokenRevoked: revoking a service token ends the
// streams it opened, at their next heartbeat.
func TestRevocationsServiceTokenRevoked(t *testing.T) {
	ts := newServer(t, serverOptions{streamHeartbeat: 20 * time.Millisecond})
	token := ts.serviceToken(t)
	req, _ := http.NewRequestWithContext(t.Context(), "GET", ts.url+"/v1/auth/revocations", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := ts.client.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/auth/revocations = %v, %v; want 200", resp, err)
	}
	defer resp.Body.Close()
	if err := ts.svc.RevokeServiceToken(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	ended := make(chan struct{})
	go func() { io.Copy(io.Discard, resp.Body); close(ended) }()
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("stream of a revoked service token still open after 5s")
	}
}

// TestRevocationsBudgeted: opening the stream checks a secret, so it takes
// from the client address's budget like refresh does; past it, 429.
func TestRevocationsBudgeted(t *testing.T) {
	ts := newServer(t, serverOptions{limits: &auth.Limits{RefreshPerIP: 3}})
	bad := map[string]string{"Authorization": "Bearer ghst_" + strings.Repeat("A", 43)}
	for i := range 3 {
		if st := ts.status(t, request{method: "GET", path: "/v1/auth/revocations", header: bad}); st != http.StatusUnauthorized {
			t.Fatalf("GET /v1/auth/revocations with an unknown token #%d: got %d, want 401", i+1, st)
		}
	}
	if st := ts.status(t, request{method: "GET", path: "/v1/auth/revocations", header: bad}); st != http.StatusTooManyRequests {
		t.Errorf("GET /v1/auth/revocations #4 from one address: got %d, want 429", st)
	}
}
