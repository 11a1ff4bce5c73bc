package authtest

import (
	"sync"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// EventLog collects a service's audit trail for a test to read back: pass
// its Add as auth.Config.OnEvent, which flows may call concurrently.
type EventLog struct {
	mu     sync.Mutex
	events []auth.Event
}

// Add records e.
func (l *EventLog) Add(e auth.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

// Of returns the events of type typ, in the order they came.
func (l *EventLog) Of(typ auth.EventType) []auth.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []auth.Event
	for _, e := range l.events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}
