package auth

import (
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// The session cache, in one place: what enters it (cacheEntry), when it is
// trusted (SetFeedHealthy), how store reads merge into it (loadSession,
// grant's mergeRead, both under the epoch rule) and how other nodes'
// changes and this node's revocations reach it (SessionChanged, revoked).
// The flows use only this file's Service methods and the cache's
// currentEpoch and mergeRead.

// cachedSession is the part of a session that authenticating a request
// needs, with its derived values precomputed. Values are immutable once
// stored; an update replaces the pointer.
type cachedSession struct {
	userID       int64
	gen          int64
	rotatedAt    instant
	accessExp    instant
	expiresAt    instant
	revoked      bool
	accessID     string
	prevAccessID string // "" at generation 0
	csrf         []byte
	prevCSRF     []byte
	// The user's email and creation time never change, so /me is answered
	// from here too.
	email         string
	userCreatedAt instant
	// How the generation was proven: only finishing a pending sign-in
	// changes these, and it rotates.
	pending         bool
	methods         []Method
	authenticatedAt instant
	// stub marks a change announced by another node that this node has not
	// loaded yet: it only pins the generation a load must reach.
	stub bool
}

// instant is a time as Unix nanoseconds, 8 bytes where a time.Time takes
// 24: the cache holds five in each of up to 100,000 entries. Zero is the
// zero time.
type instant int64

func instantOf(t time.Time) instant {
	if t.IsZero() {
		return 0
	}
	return instant(t.UnixNano())
}

// time is i in UTC, without a monotonic reading.
func (i instant) time() time.Time {
	if i == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(i)).UTC()
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

// cacheEntry is what the cache keeps of sess and its user u: the secrets
// of the current and previous generation are derived once here, not on
// every request.
func (s *Service) cacheEntry(sess *Session, u *User, sec genSecrets) *cachedSession {
	e := &cachedSession{
		userID:        sess.UserID,
		gen:           sess.Generation,
		rotatedAt:     instantOf(sess.RotatedAt),
		accessExp:     instantOf(sess.AccessExpiresAt),
		expiresAt:     instantOf(sess.ExpiresAt),
		revoked:       sess.Revoked(),
		accessID:      sec.accessID(sess.Generation),
		csrf:          sec.csrf(sess.Generation),
		email:         u.Email,
		userCreatedAt: instantOf(u.CreatedAt),

		pending: sess.Pending,
		methods: sess.signInMethods(),
	}
	proved, _ := sess.lastProof()
	e.authenticatedAt = instantOf(proved)
	if sess.Generation > 0 {
		e.prevAccessID = sec.accessID(sess.Generation - 1)
		e.prevCSRF = sec.csrf(sess.Generation - 1)
	}
	return e
}

// lookup returns the state of session id for authenticating a request:
// from the cache when it can be trusted and holds a loaded entry, from the
// store otherwise.
func (s *Service) lookup(ctx context.Context, id string) (*cachedSession, error) {
	if s.cache.trusted.Load() {
		if e, ok := s.cache.get(id); ok && !e.stub {
			return e, nil
		}
	}
	return s.loadSession(ctx, id)
}

// loadSession reads a session and its user from the store into the cache.
func (s *Service) loadSession(ctx context.Context, id string) (*cachedSession, error) {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	epoch := s.cache.currentEpoch()
	sess, err := s.store.Session(ctx, id)
	if err != nil {
		return nil, err
	}
	u, err := s.store.UserByID(ctx, sess.UserID)
	if err != nil {
		return nil, err
	}
	sec := s.secretsOf(sess, s.clock())
	return s.cache.mergeRead(id, s.cacheEntry(sess, u, sec), epoch), nil
}

// cachedUser returns the user of session id (userID) as far as the cache
// knows it, which is enough for answers that need only the email and
// creation time: those never change, so even an untrusted cache has them
// right, and the caller saves a store read.
func (s *Service) cachedUser(id string, userID int64) (*User, bool) {
	if e, ok := s.cache.get(id); ok && e.email != "" {
		return &User{ID: userID, Email: e.email, CreatedAt: e.userCreatedAt.time()}, true
	}
	return nil, false
}

// revoked records in the cache that sessions ended, after the store has
// committed it, so the very next request with their tokens fails.
func (s *Service) revoked(ids ...string) {
	for _, id := range ids {
		s.cache.merge(id, &cachedSession{revoked: true})
	}
	s.changed.fire()
}

// SessionChanged applies a change that another node committed to a
// session: a rotation to generation gen, or a revocation. A store's change
// feed (auth.FeedStore: PostgreSQL's LISTEN/NOTIFY, SQLite's polled change
// log) calls it for every change; Redis carries none, by design
// (docs/architecture.md, "Why Redis does not carry revocations"). A
// revocation takes effect here at once; a rotation leaves a stub that
// makes the next use of the session reload it, and that refuses any load
// older than gen, so a read that raced the change cannot bring the old
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
	s.cache.trusted.Store(healthy)
}

// FeedHealthy reports whether this node currently trusts its session
// cache: its change feed is connected (always true without a feed).
func (s *Service) FeedHealthy() bool { return s.cache.trusted.Load() }

// sessionCache keeps recently used sessions in memory so that verifying a
// token makes no database round trip. It is bounded: when full, arbitrary
// entries are dropped (a dropped entry costs two reads, session and user,
// on its next use).
//
// It is split into shards by a seeded hash of the session id, each with
// its own lock and its share of the bound, because every verify reads it:
// under one lock even readers contend on the lock's counter, so cores
// would wait on one another. The seed is random per process, so no client
// can pick session ids that all land in one shard.
type sessionCache struct {
	seed   maphash.Seed
	shards []cacheShard // a power of two of them, so a mask picks one
	// epoch counts resets. A store read records it before it starts and
	// may enter the cache only if no reset happened meanwhile: a read that
	// began while changes were being missed (feed down) can return state a
	// missed revocation has already ended, and the reset that makes the
	// cache trusted again must not be followed by that state arriving.
	// It changes only while reset holds every shard's lock, and mergeRead
	// compares it under its shard's lock, so a reset is one instant for
	// every shard (see reset).
	epoch atomic.Uint64
	// trusted is false while a multi-node change feed is down
	// (SetFeedHealthy).
	trusted atomic.Bool
}

// cacheShard is one lock's worth of the cache, padded to its own cache
// lines so that readers of neighbouring shards do not invalidate each
// other's.
type cacheShard struct {
	mu  sync.RWMutex
	m   map[string]*cachedSession
	max int
	_   [64]byte
}

// maxCacheShards is enough for the core counts a node runs on; more shards
// would only make reset (which locks them all) slower.
const maxCacheShards = 64

// minShardEntries keeps small caches in few shards: each shard's bound is
// its share of max, and eviction works in tenths of a shard.
const minShardEntries = 16

func newSessionCache(max int) *sessionCache {
	n := 1
	for n < maxCacheShards && max/(2*n) >= minShardEntries {
		n *= 2
	}
	c := &sessionCache{seed: maphash.MakeSeed(), shards: make([]cacheShard, n)}
	for i := range c.shards {
		// The shares add up to at most max: the bound is the whole cache's.
		c.shards[i] = cacheShard{m: make(map[string]*cachedSession), max: max / n}
	}
	c.trusted.Store(true)
	return c
}

func (c *sessionCache) shard(id string) *cacheShard {
	return &c.shards[maphash.String(c.seed, id)&uint64(len(c.shards)-1)]
}

func (c *sessionCache) get(id string) (*cachedSession, bool) {
	sh := c.shard(id)
	sh.mu.RLock()
	e, ok := sh.m[id]
	sh.mu.RUnlock()
	return e, ok
}

// CachedSessionBytes bounds the heap one cached session takes, as a node
// budgets its memory (492 measured on amd64 with Go 1.26;
// TestSessionCache_HeapAtBound holds the cache to it).
const CachedSessionBytes = 560

// CachedSessions is how many sessions the node's cache holds now.
func (s *Service) CachedSessions() int { return s.cache.len() }

// len counts the entries of all shards; not a snapshot while merges run.
func (c *sessionCache) len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}

// currentEpoch is what a store read records before it starts, for
// mergeRead.
func (c *sessionCache) currentEpoch() uint64 { return c.epoch.Load() }

// mergeRead is merge for state read from the store by a read that began
// at epoch: if the cache was reset since, e is returned to the caller (it
// is what the store said) but not kept.
func (c *sessionCache) mergeRead(id string, e *cachedSession, epoch uint64) *cachedSession {
	sh := c.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	// Under the shard's lock the epoch cannot move (reset needs this lock
	// too): either the reset is wholly before this check, and the read is
	// refused, or wholly after the merge, and its clear removes e.
	if epoch != c.epoch.Load() {
		return e
	}
	return sh.mergeLocked(id, e)
}

// merge stores e unless the cache already holds a newer state, and returns
// whichever state is now current. It is for changes this node learns as
// they commit (its own writes' revocations, the feed's notices), which no
// reset can make stale.
func (c *sessionCache) merge(id string, e *cachedSession) *cachedSession {
	sh := c.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.mergeLocked(id, e)
}

func (sh *cacheShard) mergeLocked(id string, e *cachedSession) *cachedSession {
	if old, ok := sh.m[id]; ok && !e.newer(old) {
		return old
	}
	if len(sh.m) >= sh.max {
		sh.evictLocked()
	}
	sh.m[id] = e
	return e
}

// evictLocked drops about a tenth of the shard's entries; Go's map
// iteration order is random, which makes this random eviction.
func (sh *cacheShard) evictLocked() {
	n := sh.max/10 + 1
	for id := range sh.m {
		if n == 0 {
			return
		}
		delete(sh.m, id)
		n--
	}
}

// reset drops everything and starts a new epoch: used when this node can
// no longer be sure it has seen every change (a lost invalidation feed).
// It holds every shard's lock at once, so that no merge sees the new epoch
// in one shard while another still holds pre-reset state: were shards
// cleared one by one, a feed notice merged into a shard after the epoch
// moved but before that shard's clear would be dropped, and a read that
// began after the epoch moved could then bring back the state the notice
// had superseded. Resets are rare (a feed reconnecting); reads never wait
// on more than their own shard.
func (c *sessionCache) reset() {
	for i := range c.shards {
		c.shards[i].mu.Lock()
	}
	c.epoch.Add(1)
	for i := range c.shards {
		clear(c.shards[i].m)
		c.shards[i].mu.Unlock()
	}
}
