package auth

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/internal/csrf"
	"github.com/gatehouse/gatehouse/internal/token"
)

// RefreshRequest presents either an access token (expired or not, but
// correctly signed: the gem's refresh-by-access) or a refresh token.
type RefreshRequest struct {
	AccessToken  string
	RefreshToken string
	// CheckCSRF is set when the access token came from a cookie: then
	// CSRFToken must carry the session's CSRF secret.
	CheckCSRF bool
	CSRFToken string
	Client    Client
}

// presented is what a refresh request claims: a session and the
// generation of the credential shown (or -1 if it is older than the
// previous generation).
type presented struct {
	sessionID string
	userID    int64 // 0 for refresh tokens, which carry no user
	gen       func(current int64, sec genSecrets) int64
}

// Refresh rotates a session: the credential presented must be the current
// generation's, which moves the session on by one. The previous
// generation's credential within the grace window gets the current state
// again (concurrent tabs refreshing at once all end up with the winner's
// tokens); anything older is reuse of a stolen or leaked token, and the
// whole session is revoked.
func (s *Service) Refresh(ctx context.Context, r RefreshRequest) (*Grant, error) {
	if err := s.limits.allowIP(ctx, "refresh", r.Client.limitAddr()); err != nil {
		s.onEvent(Event{Type: EventRateLimited, IP: r.Client.IP, Reason: "refresh"})
		return nil, err
	}
	p, err := s.presented(r)
	if err != nil {
		return nil, err
	}
	if g, done, err := s.rotateCached(ctx, r, p); done {
		return g, err
	}
	// Two rounds at most: losing the rotation race makes the presented
	// generation the previous one, which the second round answers.
	for range 2 {
		epoch := s.cache.currentEpoch()
		sess, err := s.store.Session(ctx, p.sessionID)
		if err != nil {
			return nil, notAuthorized(err)
		}
		now := s.clock()
		if !sess.Live(now) || (p.userID != 0 && p.userID != sess.UserID) {
			return nil, ErrNotAuthorized
		}
		if sess.Pending {
			// A pending sign-in lives minutes and is finished, not
			// refreshed: refreshing would let a password alone keep a
			// session going.
			return nil, ErrMFARequired
		}
		sec := s.secretsOf(sess, now)
		gen := p.gen(sess.Generation, sec)
		inGrace := now.Before(sess.RotatedAt.Add(s.grace))
		if r.CheckCSRF && !csrfOK(r.CSRFToken, sess, sec, gen, inGrace) {
			return nil, ErrCSRFInvalid
		}
		switch {
		case gen == sess.Generation:
			var next *Session
			err := commit(ctx, func(ctx context.Context) (err error) {
				next, err = s.store.RotateSession(ctx, sess.ID, sess.Generation, now, s.accessExpiry(now, sess.ExpiresAt))
				return err
			})
			if errors.Is(err, ErrConflict) {
				continue
			}
			if err != nil {
				return nil, notAuthorized(err)
			}
			s.changed.fire()
			s.onEvent(Event{Type: EventRefreshed, UserID: sess.UserID, SessionID: sess.ID, IP: r.Client.IP})
			return s.grantFor(ctx, next, sec, epoch)
		case gen == sess.Generation-1 && gen >= 0 && inGrace:
			// gen >= 0: -1 means "older than the previous generation",
			// which at generation 0 would otherwise read as the previous.
			return s.grantFor(ctx, sess, sec, epoch)
		case sec.imported != nil && sess.Generation == 0:
			// A token of this session that Gatehouse never knew: the
			// Rails app refreshed it after the import. That is its
			// history, not a replay of Gatehouse's: refuse the token,
			// keep the session.
			return nil, ErrNotAuthorized
		default:
			return nil, s.reuseDetected(ctx, sess, r.Client, now)
		}
	}
	return nil, unavailable(errors.New("auth: refresh kept losing the rotation race"))
}

// rotateCached is the common refresh in one statement instead of two: the
// session is in this node's cache, and the credential is of the
// generation the cache holds. Then the compare-and-swap alone decides,
// without reading the session first: it succeeds only if that generation
// is still the current one and the session is not revoked, and everything
// else the read would be checked for is fixed for a session's life (its
// user, its end) or derived from the generation (the CSRF secret). Any
// doubt (not cached, another generation, a lost swap) returns done false,
// and the authoritative read decides as before. A condition added to the
// refresh below must hold here too, or rule this path out.
func (s *Service) rotateCached(ctx context.Context, r RefreshRequest, p presented) (g *Grant, done bool, err error) {
	epoch := s.cache.currentEpoch()
	e, ok := s.cache.get(p.sessionID)
	now := s.clock()
	// Derived secrets only: an imported session's first generation (the
	// one that runs on secrets it came with) never matches them, so it
	// takes the authoritative path, and every generation after it is
	// derived.
	sec := s.derivedSecrets(p.sessionID)
	if !ok || e.stub || e.revoked || e.pending || !now.Before(e.expiresAt.time()) || (p.userID != 0 && p.userID != e.userID) ||
		p.gen(e.gen, sec) != e.gen || (r.CheckCSRF && !csrf.Valid(r.CSRFToken, e.csrf)) {
		return nil, false, nil
	}
	var next *Session
	err = commit(ctx, func(ctx context.Context) (err error) {
		next, err = s.store.RotateSession(ctx, p.sessionID, e.gen, now, s.accessExpiry(now, e.expiresAt.time()))
		return err
	})
	if errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, true, notAuthorized(err)
	}
	s.changed.fire()
	s.onEvent(Event{Type: EventRefreshed, UserID: next.UserID, SessionID: next.ID, IP: r.Client.IP})
	g, err = s.grantFor(ctx, next, sec, epoch)
	return g, true, err
}

// presented checks the credential's signature and says which session and
// generation it belongs to.
func (s *Service) presented(r RefreshRequest) (presented, error) {
	if r.RefreshToken != "" {
		id, gen, ok := s.keys.parseRefreshToken(r.RefreshToken)
		if !ok {
			return presented{}, ErrNotAuthorized
		}
		return presented{sessionID: id, gen: func(int64, genSecrets) int64 { return gen }}, nil
	}
	c, _, err := s.verifyAccess(r.AccessToken, s.now())
	if err != nil && !errors.Is(err, token.ErrExpired) {
		return presented{}, ErrNotAuthorized
	}
	gen := func(current int64, sec genSecrets) int64 {
		for g := current; g >= 0 && g > current-maxGenerationSearch; g-- {
			if c.UID == sec.accessID(g) {
				return g
			}
		}
		// Correctly signed for this session but not among the recent
		// generations: older still.
		return -1
	}
	return presented{sessionID: c.RUID, userID: c.UserID, gen: gen}, nil
}

// maxGenerationSearch bounds how far back a presented access token's
// generation is looked for (one HMAC per step).
const maxGenerationSearch = 64

// csrfOK checks the CSRF token of a cookie refresh. Besides the current
// secret (and the previous one in the grace window) it accepts the secret
// of the presented token's own stale generation: a stolen cookie used by
// an attacker first leaves the victim holding an older cookie with its
// matching CSRF token, and that pair must be recognised as reuse (and
// revoke the session), not refused as a CSRF failure that leaves the
// attacker in. A cross-site page knows no CSRF token at all, so this opens
// nothing to it.
func csrfOK(tok string, sess *Session, sec genSecrets, presentedGen int64, inGrace bool) bool {
	if csrf.Valid(tok, sec.csrf(sess.Generation)) {
		return true
	}
	if inGrace && sess.Generation > 0 && csrf.Valid(tok, sec.csrf(sess.Generation-1)) {
		return true
	}
	return presentedGen >= 0 && presentedGen < sess.Generation && csrf.Valid(tok, sec.csrf(presentedGen))
}

// grantFor grants sess, taking the user's email from the cache when it
// can: a refresh then reads only the session row.
func (s *Service) grantFor(ctx context.Context, sess *Session, sec genSecrets, epoch uint64) (*Grant, error) {
	if u, ok := s.cachedUser(sess.ID, sess.UserID); ok {
		return s.grant(sess, u, sec, epoch)
	}
	u, err := s.store.UserByID(ctx, sess.UserID)
	if err != nil {
		return nil, notAuthorized(err)
	}
	return s.grant(sess, u, sec, epoch)
}

// reuseDetected revokes the session a stale credential belongs to.
func (s *Service) reuseDetected(ctx context.Context, sess *Session, c Client, now time.Time) error {
	err := commit(ctx, func(ctx context.Context) error { return s.store.RevokeSession(ctx, sess.ID, now) })
	if err != nil {
		return unavailable(err)
	}
	s.revoked(sess.ID)
	s.onEvent(Event{Type: EventRefreshReused, UserID: sess.UserID, SessionID: sess.ID, IP: c.IP, Reason: "refresh_reuse"})
	return ErrRefreshReused
}
