package auth

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/internal/csrf"
	"github.com/gatehouse/gatehouse/internal/token"
)

// Authenticate checks an access token and returns its principal. It is the
// hot path of every authenticated request: the signature and claims are
// checked in memory and the session state comes from the cache, so a
// request makes no database round trip unless its session is not cached
// on this node yet.
func (s *Service) Authenticate(ctx context.Context, accessToken string) (*Principal, error) {
	now := s.now()
	c, pending, err := s.verifyAccess(accessToken, now)
	switch {
	case errors.Is(err, token.ErrExpired):
		return nil, ErrTokenExpired
	case err != nil:
		return nil, ErrNotAuthorized
	case c.Exp <= now.Unix():
		// The issuer's leeway is for tokens minted by a node whose clock
		// runs ahead; at expiry every node holds exp exactly, so a token
		// past it is token_expired everywhere (the client refreshes)
		// rather than accepted on one node and refused on another.
		return nil, ErrTokenExpired
	}
	e, err := s.lookup(ctx, c.RUID)
	if err != nil {
		return nil, notAuthorized(err)
	}
	if e.revoked || !now.Before(e.expiresAt.time()) || e.userID != c.UserID || pending != e.pending {
		return nil, ErrNotAuthorized
	}
	inGrace := now.Before(e.rotatedAt.time().Add(s.grace))
	switch {
	case c.UID == e.accessID:
	case c.UID == e.prevAccessID && inGrace:
	case c.Exp >= e.accessExp.time().Unix():
		// A token at least as new as the one this node knows but not
		// matching it: the session was refreshed elsewhere and this
		// node's copy is behind. Reload once. Older tokens never get here,
		// so replaying stale tokens cannot force database reads.
		if e, err = s.loadSession(ctx, c.RUID); err != nil {
			return nil, notAuthorized(err)
		}
		inGrace = now.Before(e.rotatedAt.time().Add(s.grace))
		// It may have moved on twice: the token can be the previous
		// generation's, which is as valid in grace here as on that node.
		if e.revoked || c.UID != e.accessID && (c.UID != e.prevAccessID || !inGrace) {
			return nil, ErrNotAuthorized
		}
	default:
		return nil, ErrNotAuthorized
	}
	p := &Principal{
		UserID: c.UserID, SessionID: c.RUID, AccessID: c.UID,
		Pending: e.pending, Methods: e.methods, AuthenticatedAt: e.authenticatedAt.time(),
		csrf: [2][]byte{e.csrf},
	}
	if inGrace && e.prevCSRF != nil {
		p.csrf[1] = e.prevCSRF
	}
	return p, nil
}

// verifyAccess checks an access token's signature and claims, with the
// ring's keys or else the key of pending sign-ins' tokens (pending true).
// A forgery costs both checks: two HMACs.
func (s *Service) verifyAccess(tok string, now time.Time) (c token.Claims, pending bool, err error) {
	c, err = s.tokens.Verify(tok, now)
	if err == nil || !errors.Is(err, token.ErrSignature) {
		return c, false, err
	}
	if pc, perr := s.pendingTokens.Verify(tok, now); perr == nil || errors.Is(perr, token.ErrExpired) {
		return pc, true, perr
	}
	return c, false, err
}

// ValidCSRF reports whether tok (masked or unmasked) carries one of the
// CSRF secrets the principal's session accepts now.
func (p *Principal) ValidCSRF(tok string) bool {
	for _, secret := range p.csrf {
		if secret != nil && csrf.Valid(tok, secret) {
			return true
		}
	}
	return false
}
