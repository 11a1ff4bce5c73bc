package auth

import (
	"context"
	"errors"
	"slices"
)

// The second step of a sign-in, passwordless sign-in and step-up. Other
// packages own each factor's secrets and check them; auth owns the
// sessions and the budgets those checks run under. The checks therefore
// come to auth as a function (VerifyFactor), and auth records what they
// proved (FinishSecondFactor, SignInWithFactor, Reauthenticated).

// VerifyFactor runs check, another package's verification of a second
// factor's secret (a TOTP code, a recovery code, a passkey assertion),
// under the budgets: admitted before check runs and settled after it, in
// one atomic step each, like a password (limits.go). p is the session
// that presents the factor, pending or not; nil for a passkey sign-in,
// which only the address's budget bounds (an assertion cannot be
// guessed). check returns nil for a secret that verified, and for one
// that did not an *Error such as ErrFactorInvalid, which is recorded in
// the audit trail as a failure of method m.
func (s *Service) VerifyFactor(ctx context.Context, p *Principal, m Method, c Client, check func(context.Context) error) error {
	var userID int64
	var sessionID string
	if p != nil {
		userID, sessionID = p.UserID, p.SessionID
	}
	t, err := s.limits.admitFactor(ctx, userID, sessionID, c)
	if err != nil {
		if errors.Is(err, ErrRateLimited) {
			s.onEvent(Event{Type: EventRateLimited, UserID: userID, SessionID: sessionID, IP: c.IP, Reason: "factor"})
		}
		return err
	}
	err = check(ctx)
	if serr := t.settle(ctx, err == nil); err == nil {
		err = serr
	}
	var e *Error
	if errors.As(err, &e) && e.Code != CodeUnavailable && e.Code != CodeOutcomeUnknown {
		s.onEvent(Event{Type: EventSecondFactorFailed, UserID: userID, SessionID: sessionID, IP: c.IP, Reason: string(m)})
	}
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// FinishSecondFactor completes the pending sign-in of p, whose second
// factor m the caller has just verified (VerifyFactor): the session
// rotates (a new access token id and CSRF secret; the pending access
// token is refused at once, the pending CSRF secret is accepted for the
// refresh grace), stops being pending, gets the full session
// lifetime from now and records m after the password. Of two concurrent
// finishes exactly one wins; the other is ErrNotAuthorized.
func (s *Service) FinishSecondFactor(ctx context.Context, p *Principal, m Method, c Client) (*Grant, error) {
	if !p.Pending {
		return nil, ErrNotPending
	}
	if m == MethodPassword {
		return nil, unavailable(errors.New("auth: a password is not a second factor"))
	}
	epoch := s.cache.currentEpoch()
	sess, err := s.store.Session(ctx, p.SessionID)
	if err != nil {
		return nil, notAuthorized(err)
	}
	now := s.clock()
	if !sess.Live(now) || !sess.Pending || sess.UserID != p.UserID {
		return nil, ErrNotAuthorized
	}
	expires := now.Add(s.sessionTTL)
	f := SessionFinish{
		At:              now,
		AccessExpiresAt: s.accessExpiry(now, expires),
		ExpiresAt:       expires,
		Methods:         append(slices.Clone(sess.signInMethods()), m),
	}
	var next *Session
	var evicted []string
	err = commit(ctx, func(ctx context.Context) (err error) {
		next, evicted, err = s.store.FinishSession(ctx, sess.ID, sess.Generation, f, s.maxPerUser)
		return err
	})
	if errors.Is(err, ErrConflict) {
		return nil, ErrNotAuthorized
	}
	if err != nil {
		return nil, notAuthorized(err)
	}
	s.changed.fire()
	s.evicted(sess.UserID, c, evicted)
	s.onEvent(Event{Type: EventSignedIn, UserID: sess.UserID, SessionID: sess.ID, IP: c.IP, Reason: string(m)})
	// A pending sign-in is never an imported session: its secrets are derived.
	return s.grantFor(ctx, next, s.derivedSecrets(next.ID), epoch)
}

// SignInWithFactor starts a session of userID proven by m alone: a
// passkey sign-in, whose assertion the caller has verified (VerifyFactor
// with a nil principal) and which names the user. The session is complete
// (AAL 2). A locked or deleted user is ErrInvalidCredentials, an
// unconfirmed one with confirmation required ErrEmailUnconfirmed, as for
// a password.
func (s *Service) SignInWithFactor(ctx context.Context, userID int64, m Method, c Client) (*Grant, error) {
	if m == MethodPassword {
		return nil, unavailable(errors.New("auth: a password sign-in is SignIn"))
	}
	u, err := s.store.UserByID(ctx, userID)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrInvalidCredentials
	} else if err != nil {
		return nil, unavailable(err)
	}
	if u.Locked() {
		s.onEvent(Event{Type: EventSignInFailed, UserID: u.ID, IP: c.IP, Reason: "locked"})
		return nil, ErrInvalidCredentials
	}
	if err := s.signInConfirmed(ctx, u, c); err != nil {
		return nil, err
	}
	return s.startSession(ctx, u, c, s.clock(), m, string(m))
}

// Reauthenticated records on p's session a fresh proof of its user by m,
// which the caller has just verified (VerifyFactor): the step-up that
// RequireRecentAuth asks for. It does not change the session's sign-in
// methods nor its tokens.
func (s *Service) Reauthenticated(ctx context.Context, p *Principal, m Method) error {
	if p.Pending {
		return ErrMFARequired
	}
	now := s.clock()
	err := commit(ctx, func(ctx context.Context) error { return s.store.SetSessionProof(ctx, p.SessionID, now, m) })
	if err != nil {
		return notAuthorized(err)
	}
	s.onEvent(Event{Type: EventReauthenticated, UserID: p.UserID, SessionID: p.SessionID, Reason: string(m)})
	return nil
}

// ReauthenticateWithPassword is the step-up of a user with a password
// alone: the password is checked under the same budgets as a sign-in. A
// user with a second factor must step up with it
// (ErrSecondFactorNeeded): a stolen password must not unlock the changes
// the factor guards.
func (s *Service) ReauthenticateWithPassword(ctx context.Context, p *Principal, password string, c Client) error {
	u, err := s.store.UserByID(ctx, p.UserID)
	if err != nil {
		return notAuthorized(err)
	}
	factors, err := s.secondFactorsOf(ctx, u)
	if err != nil {
		return err
	}
	if len(factors) > 0 {
		return ErrSecondFactorNeeded
	}
	ok, err := s.verifyPassword(ctx, u, password, c, nil)
	if err != nil {
		return err
	}
	if !ok {
		return ErrPasswordInvalid
	}
	return s.Reauthenticated(ctx, p, MethodPassword)
}

// RequireRecentAuth is the step-up check of a dangerous change (a new
// password or address, adding or removing a factor, new recovery codes):
// p's session must have proven its user within the step-up age
// (--step-up-max-age), and with a second factor if the user has one now.
// Otherwise ErrReauthenticationRequired. It reads the session from the
// store, so a step-up on another node counts at once.
func (s *Service) RequireRecentAuth(ctx context.Context, p *Principal) error {
	if p.Pending {
		return ErrMFARequired
	}
	sess, err := s.store.Session(ctx, p.SessionID)
	if err != nil {
		return notAuthorized(err)
	}
	at, by := sess.lastProof()
	if s.clock().Sub(at) > s.stepUpMaxAge {
		return ErrReauthenticationRequired
	}
	if by != MethodPassword {
		return nil
	}
	factors, err := s.SecondFactors(ctx, p.UserID)
	if err != nil {
		return err
	}
	if len(factors) > 0 {
		return ErrReauthenticationRequired
	}
	return nil
}

// requireFactorStepUp guards the changes that ask for the current
// password (a new password, a new address): from a user with a second
// factor they need a recent proof with it too, since a password alone is
// what the factor distrusts. A user with a password alone sees no change.
func (s *Service) requireFactorStepUp(ctx context.Context, p *Principal) error {
	factors, err := s.SecondFactors(ctx, p.UserID)
	if err != nil || len(factors) == 0 {
		return err
	}
	return s.RequireRecentAuth(ctx, p)
}
