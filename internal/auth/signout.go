package auth

import "context"

// SignOut ends the principal's session. When it returns, every token of
// the session fails on this node; other nodes learn it through the store's
// change feed.
func (s *Service) SignOut(ctx context.Context, p *Principal, c Client) error {
	err := commit(ctx, func(ctx context.Context) error { return s.store.RevokeSession(ctx, p.SessionID, s.clock()) })
	if err != nil {
		return notAuthorized(err)
	}
	s.revoked(p.SessionID)
	s.onEvent(Event{Type: EventSignedOut, UserID: p.UserID, SessionID: p.SessionID, IP: c.IP})
	return nil
}
