package auth

import (
	"context"
	"time"
)

// SessionChanged applies a change that another node committed to a
// session: a rotation to generation gen, or a revocation. A store's change
// feed (auth.FeedStore: PostgreSQL's LISTEN/NOTIFY, SQLite's polled change
// log) calls it for every change; Redis carries none, by design
// (docs/architecture.md, "Why Redis does not carry revocations"). A revocation takes effect here at once; a rotation leaves a stub
// that makes the next use of the session reload it, and that refuses any
// load older than gen, so a read that raced the change cannot bring the old
// state back.
func (s *Service) SessionChanged(id string, gen int64, revoked bool) {
	s.cache.merge(id, &cachedSession{gen: gen, revoked: revoked, stub: !revoked})
	s.changed.fire()
}

// SetFeedHealthy tells the service whether its change feed is connected.
// While it is not, this node cannot know what other nodes changed, so it
// stops trusting its cache: every authentication reads the session from
// the store (or fails with 503 when the store is down too) — slower, never
// stale. When the feed comes back the cache is emptied first, because
// changes may have been missed in between, and store reads that began
// before that are kept out of it (sessionCache.epoch): they may carry a
// state that a missed revocation has already ended.
func (s *Service) SetFeedHealthy(healthy bool) {
	if healthy {
		s.cache.reset()
	}
	s.cacheTrusted.Store(healthy)
}

// FeedHealthy reports whether this node currently trusts its session
// cache: its change feed is connected (always true without a feed).
func (s *Service) FeedHealthy() bool { return s.cacheTrusted.Load() }

// lookup returns the state of session id for authenticating a request:
// from the cache when it can be trusted and holds a loaded entry, from the
// store otherwise.
func (s *Service) lookup(ctx context.Context, id string) (*cachedSession, error) {
	if s.cacheTrusted.Load() {
		if e, ok := s.cache.get(id); ok && !e.stub {
			return e, nil
		}
	}
	return s.loadSession(ctx, id)
}

// storeTimeout bounds a store read on the authentication path, so that a
// hung database turns into a prompt 503 rather than a queue of requests.
const storeTimeout = 2 * time.Second
