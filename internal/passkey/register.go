package passkey

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// Passkey names: what the owner calls each passkey, to tell them apart in
// the list. Empty means DefaultName.
const (
	DefaultName  = "Passkey"
	maxNameChars = 64
)

// Audit events of passkeys besides auth's factor_added and
// factor_removed (reported with a mail to the owner through
// auth.Service.FactorChanged). Reported after the change has committed.
const (
	EventRenamed auth.EventType = "passkey_renamed"
	// EventCounterRegressed: an assertion whose signature counter did not
	// move forward, refused as the spec advises (a cloned authenticator).
	EventCounterRegressed auth.EventType = "passkey_counter_regressed"
)

// invalid is a validation failure of one field, Rails-style like auth's.
func invalid(field, attribute, msg string) error {
	return &auth.Error{Code: auth.CodeValidationFailed, Message: attribute + " " + msg,
		Details: map[string][]string{field: {msg}}}
}

func checkName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return DefaultName, nil
	case utf8.RuneCountInString(name) > maxNameChars:
		return "", invalid("name", "Name", "is too long (maximum is 64 characters)")
	case strings.ContainsFunc(name, unicode.IsControl):
		return "", invalid("name", "Name", "is invalid")
	}
	return name, nil
}

// BeginRegistration starts adding a passkey named name to the principal's
// account and returns the options for navigator.credentials.create. The
// passkey must be discoverable (a resident key), so that it can sign in
// without an email; the user's existing passkeys are excluded, so one
// authenticator is not registered twice.
//
// Adding a factor is a dangerous change: the session must have proven its
// user recently, with the strongest factor the user has
// (auth.Service.RequireRecentAuth), at the begin and again at the finish.
func (s *Service) BeginRegistration(ctx context.Context, p *auth.Principal, name string) (*protocol.CredentialCreation, error) {
	name, err := checkName(name)
	if err != nil {
		return nil, err
	}
	if err := s.auth.RequireRecentAuth(ctx, p); err != nil {
		return nil, err
	}
	_, acct, err := s.user(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	if len(acct.creds) >= MaxPerUser {
		return nil, invalid("credential", "Passkeys", "are at the maximum of 20; remove one first")
	}
	if err := s.withHandle(ctx, p.UserID, acct); err != nil {
		return nil, err
	}
	creation, data, err := s.wa.BeginRegistration(acct, webauthn.WithExclusions(webauthn.Credentials(acct.creds).CredentialDescriptors()))
	if err != nil {
		return nil, auth.Unavailable(err)
	}
	if err := s.begin(ctx, KindRegister, p.SessionID, p.UserID, name, data); err != nil {
		return nil, err
	}
	return creation, nil
}

// FinishRegistration verifies the browser's answer (body: the
// PublicKeyCredential's JSON) to a registration begun by this session,
// and stores the passkey. An answer that does not verify (wrong origin,
// relying party, challenge, no user presence) is a validation failure of
// "credential"; so is a passkey registered already.
func (s *Service) FinishRegistration(ctx context.Context, p *auth.Principal, body []byte, c auth.Client) (*Credential, error) {
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		return nil, ErrMalformed
	}
	if err := s.auth.RequireRecentAuth(ctx, p); err != nil {
		return nil, err
	}
	cer, data, err := s.take(ctx, parsed.Response.CollectedClientData.Challenge, KindRegister, p.SessionID)
	if err != nil {
		return nil, err
	}
	u, acct, err := s.user(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	acct.handle = data.UserID
	lc, err := s.wa.CreateCredential(acct, *data, parsed)
	if err != nil {
		e := invalid("credential", "Credential", "could not be verified").(*auth.Error)
		e.Err = err
		return nil, e
	}
	cred := &Credential{
		ID: lc.ID, UserID: u.ID, PublicKey: lc.PublicKey, SignCount: lc.Authenticator.SignCount,
		AAGUID: lc.Authenticator.AAGUID, BackupEligible: lc.Flags.BackupEligible, BackedUp: lc.Flags.BackupState,
		Name: cer.Name, CreatedAt: s.auth.Now(),
	}
	for _, t := range lc.Transport {
		cred.Transports = append(cred.Transports, string(t))
	}
	err = auth.Commit(ctx, func(ctx context.Context) error { return s.store.AddPasskey(ctx, cred) })
	switch {
	case errors.Is(err, ErrCredentialTaken):
		return nil, invalid("credential", "Credential", "is already registered")
	case err != nil:
		return nil, auth.NotAuthorized(err)
	}
	s.auth.FactorChanged(ctx, u.ID, auth.EventFactorAdded, auth.MethodPasskey, c)
	return cred, nil
}

// List returns the principal's passkeys, oldest first.
func (s *Service) List(ctx context.Context, p *auth.Principal) ([]Credential, error) {
	list, err := s.store.Passkeys(ctx, p.UserID)
	if err != nil {
		return nil, auth.Unavailable(err)
	}
	return list, nil
}

// ParseID decodes a passkey id as the API shows it (base64url, no
// padding). A malformed id is ErrNotFound, like an unknown one.
func ParseID(id string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(b) == 0 {
		return nil, auth.ErrNotFound
	}
	return b, nil
}

// Rename renames one of the principal's passkeys. Another user's passkey
// is ErrNotFound, exactly like one that does not exist.
func (s *Service) Rename(ctx context.Context, p *auth.Principal, id, name string, c auth.Client) error {
	raw, err := ParseID(id)
	if err != nil {
		return err
	}
	if name, err = checkName(name); err != nil {
		return err
	}
	if err := auth.Commit(ctx, func(ctx context.Context) error { return s.store.RenamePasskey(ctx, p.UserID, raw, name) }); err != nil {
		return auth.Unavailable(err)
	}
	s.auth.Audit(auth.Event{Type: EventRenamed, UserID: p.UserID, SessionID: p.SessionID, IP: c.IP, Reason: name})
	return nil
}

// Delete removes one of the principal's passkeys, a dangerous change
// like adding one (a recent proof, as for BeginRegistration). Another
// user's passkey is ErrNotFound, exactly like one that does not exist.
func (s *Service) Delete(ctx context.Context, p *auth.Principal, id string, c auth.Client) error {
	raw, err := ParseID(id)
	if err != nil {
		return err
	}
	if err := s.auth.RequireRecentAuth(ctx, p); err != nil {
		return err
	}
	if err := auth.Commit(ctx, func(ctx context.Context) error { return s.store.DeletePasskey(ctx, p.UserID, raw) }); err != nil {
		return auth.Unavailable(err)
	}
	return s.auth.FactorRemoved(ctx, p.UserID, auth.MethodPasskey, c)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
