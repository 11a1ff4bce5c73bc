package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// Timing of the revocation stream. A heartbeat lets a follower tell a
// quiet stream from a dead link (package verifier fails closed after a
// silence it chooses, 10 s by default); each one also re-checks the
// service token, so a revoked one ends its streams within a heartbeat.
// streamBatch bounds one read of the change log.
const (
	DefaultStreamHeartbeat = 2 * time.Second
	streamWriteTimeout     = 10 * time.Second
	streamBatch            = 1000
)

// handleRevocations serves GET /v1/auth/revocations: the session change
// log as Server-Sent Events, to services holding a service token. Every
// event carries its position as its id; a follower resumes after one with
// Last-Event-ID (what EventSource sends on reconnect) or ?after=. Without
// a position it starts from the oldest entry kept. A position whose
// successors were pruned is refused with 410 position_expired before the
// stream starts.
//
// Once the stream has started its status is sent, so a failure after that
// ends the stream (nil) and the follower reconnects from its position.
func (s *server) handleRevocations(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	secret := ""
	if f := strings.Fields(r.Header.Get("Authorization")); len(f) == 2 && strings.EqualFold(f[0], "Bearer") {
		secret = f[1]
	}
	if _, err := s.svc.AuthenticateService(r.Context(), secret, s.client(r)); err != nil {
		return err
	}
	pos, ok := streamPosition(r)
	if !ok {
		return apiError(auth.CodeBadRequest, "Last-Event-ID and after must be a non-negative integer")
	}
	// Take the wake-up signal before each read: a change committed
	// while reading still wakes the next wait.
	changed := s.svc.Changed()
	events, err := s.svc.Revocations(r.Context(), pos, streamBatch)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: pass events through at once
	w.WriteHeader(http.StatusOK)
	st := &stream{w: w, rc: http.NewResponseController(w)}
	st.buf.WriteString("retry: 1000\n\n")
	heartbeat := time.NewTicker(s.heartbeat)
	defer heartbeat.Stop()
	caughtUp := false
	for {
		for _, e := range events {
			st.event(e)
			pos = e.Seq
		}
		if len(events) < streamBatch {
			if !caughtUp {
				// The first heartbeat marks the end of the backlog: a
				// follower trusts its state only from then on.
				st.buf.WriteString(heartbeatEvent)
				caughtUp = true
			}
			if st.flush() != nil {
				return nil
			}
			select {
			case <-r.Context().Done():
				return nil
			case <-s.stop:
				return nil
			case <-changed:
			case <-heartbeat.C:
				if !s.streamMayContinue(r.Context(), secret) {
					return nil
				}
				st.buf.WriteString(heartbeatEvent)
			}
		}
		changed = s.svc.Changed()
		if events, err = s.svc.Revocations(r.Context(), pos, streamBatch); err != nil {
			// The follower reconnects from its position and gets a
			// clear answer (410, 503) then.
			return nil
		}
	}
}

// heartbeatEvent says "nothing else has changed up to now".
const heartbeatEvent = "event: heartbeat\ndata: {}\n\n"

// streamMayContinue re-checks the stream's service token; a database that
// cannot answer does not end the stream (its heartbeats are what tell the
// follower the stream is alive, and the log read will fail on its own).
func (s *server) streamMayContinue(ctx context.Context, secret string) bool {
	_, err := s.svc.ServiceTokenLive(ctx, secret)
	return err == nil || !errors.Is(err, auth.ErrNotAuthorized)
}

// streamPosition reads the position to resume after: Last-Event-ID wins
// over ?after=; neither is 0, the start of the log.
func streamPosition(r *http.Request) (int64, bool) {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v = r.URL.Query().Get("after")
	}
	if v == "" {
		return 0, true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil && n >= 0
}

// stream buffers events and writes them in one go.
type stream struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	buf bytes.Buffer
}

func (st *stream) event(e auth.Revocation) {
	data, _ := json.Marshal(e) // strings and integers: cannot fail
	st.buf.WriteString("id: ")
	st.buf.WriteString(strconv.FormatInt(e.Seq, 10))
	st.buf.WriteString("\nevent: ")
	st.buf.WriteString(e.Type)
	st.buf.WriteString("\ndata: ")
	st.buf.Write(data)
	st.buf.WriteString("\n\n")
}

// flush sends what is buffered. Each write gets its own deadline: the
// server's WriteTimeout is for whole responses, and a stream lives on.
func (st *stream) flush() error {
	if st.buf.Len() == 0 {
		return nil
	}
	st.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	if _, err := st.w.Write(st.buf.Bytes()); err != nil {
		return err
	}
	st.buf.Reset()
	return st.rc.Flush()
}
