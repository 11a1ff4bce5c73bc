package passkey

import (
	"context"
	"errors"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// ErrAssertionInvalid is a passkey that did not prove the user at a second
// step or a step-up: unknown to the account, signed for another origin or
// challenge, without user presence, or with a counter that went back.
var ErrAssertionInvalid = &auth.Error{Code: auth.CodeValidationFailed, Message: "Passkey is invalid",
	Details: map[string][]string{"credential": {"is invalid"}}}

// BeginSignIn starts a passwordless sign-in and returns the options for
// navigator.credentials.get: no credentials listed (the browser offers
// whatever passkeys it holds for the site, so no email is typed) and user
// verification required, which is what makes a passkey a sign-in of its
// own. It takes from the address's sign-in budget, since anyone may ask.
func (s *Service) BeginSignIn(ctx context.Context, c auth.Client) (*protocol.CredentialAssertion, error) {
	if err := s.auth.AllowRequest(ctx, "sign_in", c); err != nil {
		return nil, err
	}
	assertion, data, err := s.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, auth.Unavailable(err)
	}
	if err := s.begin(ctx, KindSignIn, "", 0, "", data); err != nil {
		return nil, err
	}
	return assertion, nil
}

// FinishSignIn verifies the browser's answer (body: the
// PublicKeyCredential's JSON) to a passwordless sign-in and starts a
// session, complete (AAL 2), exactly as a sign-in answers. Any failure of
// the passkey is ErrInvalidCredentials, like a wrong password.
func (s *Service) FinishSignIn(ctx context.Context, body []byte, c auth.Client) (*auth.Grant, error) {
	parsed, err := parseAssertion(body)
	if err != nil {
		return nil, err
	}
	var userID int64
	err = s.auth.VerifyFactor(ctx, nil, auth.MethodPasskey, c, func(ctx context.Context) error {
		_, data, err := s.take(ctx, parsed.Response.CollectedClientData.Challenge, KindSignIn, "")
		if err != nil {
			return err
		}
		userID, err = s.verify(ctx, parsed, data, 0, c)
		return err
	})
	if errors.Is(err, ErrAssertionInvalid) {
		return nil, auth.ErrInvalidCredentials
	}
	if err != nil {
		return nil, err
	}
	return s.auth.SignInWithFactor(ctx, userID, auth.MethodPasskey, c)
}

// BeginAssertion starts a ceremony that proves the principal's user with
// one of their passkeys (listed, so the browser asks for one of those):
// KindSecondFactor for a pending sign-in, KindStepUp for a step-up. A
// user without passkeys gets ErrAssertionInvalid.
func (s *Service) BeginAssertion(ctx context.Context, p *auth.Principal, kind Kind) (*protocol.CredentialAssertion, error) {
	if err := s.checkPending(p, kind); err != nil {
		return nil, err
	}
	_, acct, err := s.user(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	if len(acct.creds) == 0 {
		return nil, ErrAssertionInvalid
	}
	if err := s.withHandle(ctx, p.UserID, acct); err != nil {
		return nil, err
	}
	assertion, data, err := s.wa.BeginLogin(acct)
	if err != nil {
		return nil, auth.Unavailable(err)
	}
	if err := s.begin(ctx, kind, p.SessionID, p.UserID, "", data); err != nil {
		return nil, err
	}
	return assertion, nil
}

// checkPending: a second-factor ceremony is for a pending sign-in only,
// a step-up for a complete one only.
func (s *Service) checkPending(p *auth.Principal, kind Kind) error {
	switch {
	case kind == KindSecondFactor && !p.Pending:
		return auth.ErrNotPending
	case kind == KindStepUp && p.Pending:
		return auth.ErrMFARequired
	case kind != KindSecondFactor && kind != KindStepUp:
		return ErrChallengeInvalid
	}
	return nil
}

// FinishSecondFactor verifies the answer to a KindSecondFactor ceremony
// of the pending principal and completes its sign-in.
func (s *Service) FinishSecondFactor(ctx context.Context, p *auth.Principal, body []byte, c auth.Client) (*auth.Grant, error) {
	if err := s.finishAssertion(ctx, p, KindSecondFactor, body, c); err != nil {
		return nil, err
	}
	return s.auth.FinishSecondFactor(ctx, p, auth.MethodPasskey, c)
}

// FinishStepUp verifies the answer to a KindStepUp ceremony of the
// principal and records the fresh proof on its session.
func (s *Service) FinishStepUp(ctx context.Context, p *auth.Principal, body []byte, c auth.Client) error {
	if err := s.finishAssertion(ctx, p, KindStepUp, body, c); err != nil {
		return err
	}
	return s.auth.Reauthenticated(ctx, p, auth.MethodPasskey)
}

func (s *Service) finishAssertion(ctx context.Context, p *auth.Principal, kind Kind, body []byte, c auth.Client) error {
	if err := s.checkPending(p, kind); err != nil {
		return err
	}
	parsed, err := parseAssertion(body)
	if err != nil {
		return err
	}
	return s.auth.VerifyFactor(ctx, p, auth.MethodPasskey, c, func(ctx context.Context) error {
		_, data, err := s.take(ctx, parsed.Response.CollectedClientData.Challenge, kind, p.SessionID)
		if err != nil {
			return err
		}
		_, err = s.verify(ctx, parsed, data, p.UserID, c)
		return err
	})
}

func parseAssertion(body []byte) (*protocol.ParsedCredentialAssertionData, error) {
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return nil, ErrMalformed
	}
	return parsed, nil
}

// verify checks an assertion against the ceremony's data and the passkeys
// of its user: userID, or for a discoverable sign-in (0) the owner of the
// user handle the authenticator returned. It then records the use, only
// if the signature counter moved forward (or both are zero): a counter
// that went back is refused and audited, as the spec advises for a
// possibly cloned authenticator.
func (s *Service) verify(ctx context.Context, parsed *protocol.ParsedCredentialAssertionData, data *webauthn.SessionData, userID int64, c auth.Client) (int64, error) {
	discoverable := userID == 0
	if discoverable {
		var err error
		userID, err = s.store.PasskeyUser(ctx, parsed.Response.UserHandle)
		if errors.Is(err, auth.ErrNotFound) {
			return 0, ErrAssertionInvalid
		} else if err != nil {
			return 0, auth.Unavailable(err)
		}
	}
	_, acct, err := s.user(ctx, userID)
	if errors.Is(err, auth.ErrNotAuthorized) {
		return 0, ErrAssertionInvalid // the user was deleted meanwhile
	} else if err != nil {
		return 0, err
	}
	var lc *webauthn.Credential
	if discoverable {
		acct.handle = parsed.Response.UserHandle
		_, lc, err = s.wa.ValidatePasskeyLogin(func([]byte, []byte) (webauthn.User, error) { return acct, nil }, *data, parsed)
	} else {
		acct.handle = data.UserID
		lc, err = s.wa.ValidateLogin(acct, *data, parsed)
	}
	if err != nil {
		e := *ErrAssertionInvalid
		e.Err = err
		return 0, &e
	}
	if !lc.Authenticator.CloneWarning {
		err = auth.Commit(ctx, func(ctx context.Context) error {
			return s.store.UsePasskey(ctx, lc.ID, lc.Authenticator.SignCount, lc.Flags.BackupState, s.auth.Now())
		})
	}
	switch {
	case lc.Authenticator.CloneWarning || errors.Is(err, ErrCounterRegressed):
		s.auth.Audit(auth.Event{Type: EventCounterRegressed, UserID: userID, IP: c.IP, Reason: b64(lc.ID)})
		return 0, ErrAssertionInvalid
	case errors.Is(err, auth.ErrNotFound):
		return 0, ErrAssertionInvalid // deleted meanwhile
	case err != nil:
		return 0, auth.Unavailable(err)
	}
	return userID, nil
}
