package auth

import (
	"sync"
	"time"
)

// cachedSession is the part of a session that authenticating a request
// needs, with its derived values precomputed. Values are immutable once
// stored; an update replaces the pointer.
type cachedSession struct {
	userID       int64
	gen          int64
	rotatedAt    time.Time
	accessExp    time.Time
	expiresAt    time.Time
	revoked      bool
	accessID     string
	prevAccessID string // "" at generation 0
	csrf         []byte
	prevCSRF     []byte
	// The user's email and creation time never change, so /me is answered
	// from here too.
	email         string
	userCreatedAt time.Time
	// stub marks a change announced by another node that this node has not
	// loaded yet: it only pins the generation a load must reach.
	stub bool
}

// newer reports whether c supersedes old. Session state only moves
// forward: a revocation is final and a generation never goes back, so
// merging by this order is safe whatever order loads and updates arrive in
// (a slow database read can never resurrect a revoked session).
func (c *cachedSession) newer(old *cachedSession) bool {
	switch {
	case old.revoked:
		return false
	case c.revoked:
		return true
	case old.stub:
		return c.gen >= old.gen
	}
	return c.gen > old.gen
}

// sessionCache keeps recently used sessions in memory so that verifying a
// token makes no database round trip. It is bounded: when full, arbitrary
// entries are dropped (a dropped entry costs two reads, session and user,
// on its next use).
type sessionCache struct {
	mu  sync.RWMutex
	m   map[string]*cachedSession
	max int
	// epoch counts resets. A store read records it before it starts and
	// may enter the cache only if no reset happened meanwhile: a read that
	// began while changes were being missed (feed down) can return state a
	// missed revocation has already ended, and the reset that makes the
	// cache trusted again must not be followed by that state arriving.
	epoch uint64
}

func newSessionCache(max int) *sessionCache {
	return &sessionCache{m: make(map[string]*cachedSession), max: max}
}

func (c *sessionCache) get(id string) (*cachedSession, bool) {
	c.mu.RLock()
	e, ok := c.m[id]
	c.mu.RUnlock()
	return e, ok
}

// currentEpoch is what a store read records before it starts, for
// mergeRead.
func (c *sessionCache) currentEpoch() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.epoch
}

// mergeRead is merge for state read from the store by a read that began
// at epoch: if the cache was reset since, e is returned to the caller (it
// is what the store said) but not kept.
func (c *sessionCache) mergeRead(id string, e *cachedSession, epoch uint64) *cachedSession {
	c.mu.Lock()
	defer c.mu.Unlock()
	if epoch != c.epoch {
		return e
	}
	return c.mergeLocked(id, e)
}

// merge stores e unless the cache already holds a newer state, and returns
// whichever state is now current. It is for changes this node learns as
// they commit (its own writes' revocations, the feed's notices), which no
// reset can make stale.
func (c *sessionCache) merge(id string, e *cachedSession) *cachedSession {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mergeLocked(id, e)
}

func (c *sessionCache) mergeLocked(id string, e *cachedSession) *cachedSession {
	if old, ok := c.m[id]; ok && !e.newer(old) {
		return old
	}
	if len(c.m) >= c.max {
		c.evictLocked()
	}
	c.m[id] = e
	return e
}

// evictLocked drops about a tenth of the entries; Go's map iteration order
// is random, which makes this random eviction.
func (c *sessionCache) evictLocked() {
	n := c.max/10 + 1
	for id := range c.m {
		if n == 0 {
			return
		}
		delete(c.m, id)
		n--
	}
}

// reset drops everything and starts a new epoch: used when this node can
// no longer be sure it has seen every change (a lost invalidation feed).
func (c *sessionCache) reset() {
	c.mu.Lock()
	clear(c.m)
	c.epoch++
	c.mu.Unlock()
}
