package redis

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"
)

// TestSetLogger: a message of go-redis itself comes out as a JSON log
// line, not as plain text on stderr. An unknown client-side-cache strategy
// makes go-redis log without needing a server.
func TestSetLogger(t *testing.T) {
	var buf bytes.Buffer
	SetLogger(slog.New(slog.NewJSONHandler(&buf, nil)))
	t.Cleanup(func() { SetLogger(slog.New(slog.DiscardHandler)) })

	goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", ClientSideCacheStrategy: 99}).Close()

	var line struct {
		Level, Msg, Component string
	}
	if err := json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &line); err != nil {
		t.Fatalf("go-redis log output %q: not one JSON line: %v", buf.String(), err)
	}
	if line.Level != "WARN" || line.Component != "go-redis" || !strings.Contains(line.Msg, "ClientSideCacheStrategy") {
		t.Errorf("go-redis log line: got %+v, want level WARN, component go-redis, the message about ClientSideCacheStrategy", line)
	}
}
