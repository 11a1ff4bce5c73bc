package auth

import (
	"context"
	"slices"
	"strings"
)

// Method is a way a user proves who they are. Sessions record the methods
// of their sign-in; the set is closed and part of the API (docs/api.md).
type Method string

// The methods. A password is the first factor; TOTP and recovery codes
// complete a password sign-in; a passkey is user-verified (something the
// user has, unlocked by something they know or are) and so is a sign-in of
// its own, and a second factor too.
const (
	MethodPassword     Method = "password"
	MethodTOTP         Method = "totp"
	MethodPasskey      Method = "passkey"
	MethodRecoveryCode Method = "recovery_code"
)

// Methods lists every method, for validation and the API document's tests.
func Methods() []Method {
	return []Method{MethodPassword, MethodTOTP, MethodPasskey, MethodRecoveryCode}
}

// SecondFactor is one kind of second factor, implemented outside auth
// (package mfa for TOTP and recovery codes, package passkey for passkeys),
// which owns its secrets and how they are checked. auth asks it only
// whether a user has one, to decide whether a password sign-in is
// complete, and to remove it (an administrator's reset).
type SecondFactor interface {
	// Kind is the method a successful check of this factor proves.
	Kind() Method
	// Enrolled reports whether userID has a usable (confirmed) factor of
	// this kind.
	Enrolled(ctx context.Context, userID int64) (bool, error)
	// Reset removes every factor of this kind of userID.
	Reset(ctx context.Context, userID int64) error
}

// AddSecondFactor registers a kind of second factor. Wiring calls it
// before the Service serves its first request: the list is read without
// a lock.
func (s *Service) AddSecondFactor(f SecondFactor) {
	s.factors = append(s.factors, f)
}

// SecondFactors returns the kinds of second factor userID has enrolled,
// in registration order; none for a user with a password alone.
func (s *Service) SecondFactors(ctx context.Context, userID int64) ([]Method, error) {
	var kinds []Method
	for _, f := range s.factors {
		ok, err := f.Enrolled(ctx, userID)
		if err != nil {
			return nil, unavailable(err)
		}
		if ok {
			kinds = append(kinds, f.Kind())
		}
	}
	return kinds, nil
}

// AAL is the authenticator assurance level (NIST SP 800-63B) of a sign-in
// proven by methods: 2 when it took two factors, or a passkey, which is
// multi-factor on its own (the authenticator verified its user); 1
// otherwise.
func AAL(methods []Method) int {
	for _, m := range methods {
		if m != MethodPassword {
			return 2
		}
	}
	return 1
}

// FormatMethods is a method list as stores keep it and /verify's
// X-Auth-Methods shows it: comma-separated.
func FormatMethods(methods []Method) string {
	if len(methods) == 1 {
		return string(methods[0]) // the common case, on /verify's hot path: no allocation
	}
	parts := make([]string, len(methods))
	for i, m := range methods {
		parts[i] = string(m)
	}
	return strings.Join(parts, ",")
}

// ParseMethods reads FormatMethods' output; "" is no methods.
func ParseMethods(s string) []Method {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	methods := make([]Method, len(parts))
	for i, p := range parts {
		methods[i] = Method(p)
	}
	return methods
}

// FactorChanged reports a change to userID's second factors made by a
// factor package (e is EventFactorAdded, EventFactorRemoved or
// EventRecoveryCodeUsed; m the kind): an audit event, and a notice mail
// to the owner, so that a factor an attacker adds or removes does not go
// unnoticed. The change has committed: a mail that cannot be queued is
// logged, not returned.
func (s *Service) FactorChanged(ctx context.Context, userID int64, e EventType, m Method, c Client) {
	s.factorChanged(ctx, userID, e, string(m), c)
}

// factorChanged is FactorChanged with the audit event's reason given.
func (s *Service) factorChanged(ctx context.Context, userID int64, e EventType, reason string, c Client) {
	s.onEvent(Event{Type: e, UserID: userID, IP: c.IP, Reason: reason})
	kind, ok := factorNotices[e]
	if !ok {
		return
	}
	u, err := s.store.UserByID(ctx, userID)
	if err == nil {
		err = s.enqueue(ctx, kind, u.Email, u.ID)
	}
	if err != nil {
		s.log.Warn("second-factor notice not queued", "user_id", userID, "event", e, "err", err)
	}
}

// FactorRemoved is FactorChanged for a removal by the user (m the kind
// removed), after it has committed. Recovery codes left without a factor
// they back up are removed first: alone they would keep a pending sign-in
// for a factor the user no longer has, and spend a code on every sign-in.
// A user left with no factor loses the hint that they may have one
// (factorhint.go).
func (s *Service) FactorRemoved(ctx context.Context, userID int64, m Method, c Client) error {
	u, err := s.store.UserByID(ctx, userID) // before the factors: its FactorVersion guards the hint
	if err != nil {
		return notAuthorized(err)
	}
	kinds, err := s.SecondFactors(ctx, userID)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(kinds, func(k Method) bool { return k != MethodRecoveryCode }) {
		// Also with no kind left: used codes stay as rows, and one given
		// back after this (mfa's give-back of a code a refused finish
		// spent) must find none to revive.
		for _, f := range s.factors {
			if f.Kind() != MethodRecoveryCode {
				continue
			}
			if err := commit(ctx, func(ctx context.Context) error { return f.Reset(ctx, userID) }); err != nil {
				return unavailable(err)
			}
		}
		kinds = nil
	}
	if len(kinds) == 0 {
		s.clearFactorHint(ctx, u)
	}
	s.FactorChanged(ctx, userID, EventFactorRemoved, m, c)
	return nil
}

// factorNotices are the mails the owner gets for each change.
var factorNotices = map[EventType]MailKind{
	EventFactorAdded:      KindFactorAdded,
	EventFactorRemoved:    KindFactorRemoved,
	EventRecoveryCodeUsed: KindRecoveryCodeUsed,
}

// ResetSecondFactors removes every second factor of user id, of every
// registered kind (the admin CLI: a user who lost theirs), and returns
// the kinds that were enrolled. Each removal is audited, as the
// administrator's (reason "admin:" and the kind, where the user's own is
// the kind alone), and the owner told; the user signs in with the
// password alone again.
func (s *Service) ResetSecondFactors(ctx context.Context, id int64) ([]Method, error) {
	u, err := s.store.UserByID(ctx, id) // before the removals: its FactorVersion guards the hint
	if err != nil {
		return nil, unavailable(err)
	}
	had, err := s.SecondFactors(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, f := range s.factors {
		if err := f.Reset(ctx, id); err != nil {
			return nil, unavailable(err)
		}
	}
	s.clearFactorHint(ctx, u)
	for _, m := range had {
		s.factorChanged(ctx, id, EventFactorRemoved, "admin:"+string(m), Client{})
	}
	return had, nil
}
