package auth

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/internal/token"
)

// startSession commits a new session of u, proven by first, and returns
// its grant: the one way a sign-in and a password reset start a session.
// A password does not finish the sign-in of a user with a second factor:
// the session is then pending (short-lived, good only for the second
// step) and the grant says which factors can finish it. Sessions past the
// per-user cap are evicted, oldest first, and reported like any other
// revocation, but only by a complete sign-in: a password alone must not
// end the owner's sessions. reason labels the signed_in event ("" for a
// plain sign-in).
func (s *Service) startSession(ctx context.Context, u *User, c Client, now time.Time, first Method, reason string) (*Grant, error) {
	sess := s.newSession(u.ID, c, now, first)
	maxPerUser := s.maxPerUser
	var factors []Method
	if first == MethodPassword {
		var err error
		if factors, err = s.secondFactorsOf(ctx, u); err != nil {
			return nil, err
		}
	}
	if len(factors) > 0 {
		sess.Pending = true
		sess.ExpiresAt = now.Add(s.pendingTTL)
		sess.AccessExpiresAt = s.accessExpiry(now, sess.ExpiresAt)
		maxPerUser = 0
	}
	epoch := s.cache.currentEpoch()
	var evicted []string
	err := commit(ctx, func(ctx context.Context) (err error) {
		evicted, err = s.store.CreateSession(ctx, sess, maxPerUser)
		return err
	})
	if err != nil {
		return nil, unavailable(err)
	}
	s.evicted(u.ID, c, evicted)
	typ := EventSignedIn
	if sess.Pending {
		typ = EventSecondFactorPending
	}
	s.onEvent(Event{Type: typ, UserID: u.ID, SessionID: sess.ID, IP: c.IP, Reason: reason})
	g, err := s.grant(sess, u, s.derivedSecrets(sess.ID), epoch)
	if err != nil {
		return nil, err
	}
	g.SecondFactors = factors
	return g, nil
}

// evicted reports sessions of userID revoked by the per-user cap.
func (s *Service) evicted(userID int64, c Client, ids []string) {
	s.revoked(ids...)
	for _, id := range ids {
		s.onEvent(Event{Type: EventSessionRevoked, UserID: userID, SessionID: id, IP: c.IP, Reason: "session_cap"})
	}
}

// newSession starts a session for userID at now, proven by first.
func (s *Service) newSession(userID int64, c Client, now time.Time, first Method) *Session {
	expires := now.Add(s.sessionTTL)
	return &Session{
		ID:              token.NewUID(),
		UserID:          userID,
		RotatedAt:       now,
		AccessExpiresAt: s.accessExpiry(now, expires),
		CreatedAt:       now,
		LastUsedAt:      now,
		ExpiresAt:       expires,
		IP:              c.IP,
		UserAgent:       c.UserAgent,
		Methods:         []Method{first},
		AuthenticatedAt: now,
		AuthenticatedBy: first,
	}
}

// accessExpiry is the exp of an access token issued at now: whole seconds
// (the claim is an integer) and never past the session's end.
func (s *Service) accessExpiry(now, sessionEnd time.Time) time.Time {
	exp := now.Add(s.accessTTL)
	if exp.After(sessionEnd) {
		exp = sessionEnd
	}
	return exp.Truncate(time.Second)
}

// grant builds the client's credentials for the session's current
// generation and records that state in the cache, unless the cache was
// reset since epoch, when the store access that produced sess began.
// Everything in it is derived from (key, session, generation), so granting
// the same generation twice yields the same tokens; sec has the secrets
// of an imported session's generation 0, still needed as the previous.
func (s *Service) grant(sess *Session, u *User, sec genSecrets, epoch uint64) (*Grant, error) {
	e := s.cacheEntry(sess, u, sec)
	issuer := s.tokens
	if sess.Pending {
		issuer = s.pendingTokens
	}
	access, err := issuer.Issue(token.Claims{
		Exp:    sess.AccessExpiresAt.Unix(),
		UserID: sess.UserID,
		UID:    e.accessID,
		RUID:   sess.ID,
	})
	if err != nil {
		return nil, unavailable(err)
	}
	s.cache.mergeRead(sess.ID, e, epoch)
	return &Grant{
		UserID:           sess.UserID,
		SessionID:        sess.ID,
		AccessToken:      access,
		AccessExpiresAt:  sess.AccessExpiresAt,
		RefreshToken:     s.keys.refreshToken(sess.ID, sess.Generation),
		RefreshExpiresAt: sess.ExpiresAt,
		CSRFSecret:       e.csrf,
	}, nil
}

// NotAuthorized turns a store's "not found" (the user or session went
// away) into a 401 and anything else into a 503, keeping an *Error as it
// is. For the packages of other factors; nil is not a valid argument.
func NotAuthorized(err error) error { return notAuthorized(err) }

func notAuthorized(err error) error {
	if errors.Is(err, ErrNotFound) {
		return ErrNotAuthorized
	}
	return unavailable(err)
}
