// Package passkey adds WebAuthn passkeys to Gatehouse: registering and
// naming several per user, signing in with one instead of a password
// (discoverable credentials, no email typed), finishing a pending sign-in
// with one as the second factor, and proving presence with one before a
// dangerous change (step-up). The WebAuthn protocol is the
// go-webauthn/webauthn library's; this package keeps the records (Store),
// binds each ceremony to what began it, and goes through package auth's
// budgets, clock, writes and audit trail like auth's own flows.
//
// # Ceremonies
//
// A begin stores the library's session data server-side (Store.SaveCeremony)
// under a key derived from its random challenge, so a finish may reach any
// node. The finish carries that challenge inside the client data the
// authenticator signed, so no separate ceremony id travels: the finish
// takes (deletes) the ceremony in one statement, which makes it
// single-use even across nodes, then checks that it is unexpired (on the
// Service clock), of the right kind, and bound to the same session (or,
// for a passwordless sign-in, to nothing but its challenge).
package passkey

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// Config is what a Service needs besides auth's Service and a Store.
type Config struct {
	// RPID is the relying party id: the registrable domain the passkeys
	// are scoped to (e.g. example.com), which every origin must be on.
	RPID string
	// RPName is shown by authenticators; default "Gatehouse".
	RPName string
	// Origins are the exact origins (scheme://host[:port]) of the pages
	// allowed to run ceremonies.
	Origins []string
	// CeremonyTTL is how long a begun ceremony may be finished; default
	// 5 minutes.
	CeremonyTTL time.Duration
}

// DefaultCeremonyTTL is the default life of a ceremony: long enough for a
// user to find a security key, short enough that a challenge left behind
// is useless soon.
const DefaultCeremonyTTL = 5 * time.Minute

// MaxPerUser caps the passkeys of one user: each is listed in every
// second-factor challenge, and a list without bound is a way to make
// every sign-in slow.
const MaxPerUser = 20

// Service carries out the passkey ceremonies.
type Service struct {
	auth  *auth.Service
	store Store
	wa    *webauthn.WebAuthn
	ttl   time.Duration
}

// ConfigFromURL derives the relying party from a public URL (the app's
// address that mails link to): its host is the id and its origin the one
// allowed origin.
func ConfigFromURL(publicURL string) (Config, error) {
	u, err := url.Parse(publicURL)
	if err != nil || u.Scheme == "" || u.Hostname() == "" {
		return Config{}, fmt.Errorf("passkey: cannot derive a relying party from %q: want a URL like https://app.example.com", publicURL)
	}
	return Config{RPID: u.Hostname(), Origins: []string{u.Scheme + "://" + u.Host}}, nil
}

// Check reports what is wrong with c: a missing relying party id or
// origin, or an origin that is not on the relying party's domain.
func (c Config) Check() error {
	if c.RPID == "" || len(c.Origins) == 0 {
		return errors.New("passkey: a relying party id and at least one origin are required")
	}
	for _, o := range c.Origins {
		if err := checkOrigin(o, c.RPID); err != nil {
			return err
		}
	}
	return nil
}

// New checks cfg and returns a Service. It registers passkeys with a as
// a second factor (Factor): call it, like auth.Service.AddSecondFactor,
// before a serves its first request.
func New(a *auth.Service, st Store, cfg Config) (*Service, error) {
	if cfg.RPName == "" {
		cfg.RPName = "Gatehouse"
	}
	if cfg.CeremonyTTL <= 0 {
		cfg.CeremonyTTL = DefaultCeremonyTTL
	}
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	timeout := webauthn.TimeoutConfig{Timeout: cfg.CeremonyTTL, TimeoutUVD: cfg.CeremonyTTL}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:          cfg.RPID,
		RPDisplayName: cfg.RPName,
		RPOrigins:     cfg.Origins,
		// No attestation: which make of authenticator a user has is none
		// of our business, and "none" keeps browsers from prompting.
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementRequired,
			UserVerification: protocol.VerificationPreferred,
		},
		// The browser's timeout hint only; expiry is enforced on the
		// Service clock, which every node shares, not the library's.
		Timeouts: webauthn.TimeoutsConfig{Login: timeout, Registration: timeout},
	})
	if err != nil {
		return nil, fmt.Errorf("passkey: %w", err)
	}
	a.AddSecondFactor(NewFactor(st))
	return &Service{auth: a, store: st, wa: wa, ttl: cfg.CeremonyTTL}, nil
}

// checkOrigin refuses an origin that is not scheme://host[:port] on the
// relying party's domain: a browser would never let such a page use the
// passkeys, so the configuration is a mistake to report at start.
func checkOrigin(origin, rpID string) error {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.Path != "" || u.RawQuery != "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("passkey: origin %q is not scheme://host[:port]", origin)
	}
	if h := u.Hostname(); h != rpID && !strings.HasSuffix(h, "."+rpID) {
		return fmt.Errorf("passkey: origin %q is not on the relying party's domain %q", origin, rpID)
	}
	return nil
}

// Errors of the ceremonies, beyond auth's.
var (
	// ErrChallengeInvalid: the finish names a ceremony that was never
	// begun, was finished already, expired, or was begun for something
	// else (another session, another kind). The client begins again.
	ErrChallengeInvalid = &auth.Error{Code: auth.CodeTokenInvalid, Message: "Passkey challenge is invalid, used or expired"}
	// ErrMalformed: the body is not a credential a browser would send.
	ErrMalformed = &auth.Error{Code: auth.CodeBadRequest, Message: "Malformed passkey credential"}
)

// account is a user as the library sees one.
type account struct {
	handle []byte
	email  string
	creds  []webauthn.Credential
}

func (a *account) WebAuthnID() []byte                         { return a.handle }
func (a *account) WebAuthnName() string                       { return a.email }
func (a *account) WebAuthnDisplayName() string                { return a.email }
func (a *account) WebAuthnCredentials() []webauthn.Credential { return a.creds }

// libraryCredential is c as the library verifies it.
func libraryCredential(c Credential) webauthn.Credential {
	var flags protocol.AuthenticatorFlags
	if c.BackupEligible {
		flags |= protocol.FlagBackupEligible
	}
	if c.BackedUp {
		flags |= protocol.FlagBackupState
	}
	ts := make([]protocol.AuthenticatorTransport, len(c.Transports))
	for i, t := range c.Transports {
		ts[i] = protocol.AuthenticatorTransport(t)
	}
	return webauthn.Credential{
		ID: c.ID, PublicKey: c.PublicKey, Transport: ts, Flags: webauthn.NewCredentialFlags(flags),
		Authenticator: webauthn.Authenticator{AAGUID: c.AAGUID, SignCount: c.SignCount},
	}
}

// user returns the account of userID with its passkeys, without its
// handle (see withHandle).
func (s *Service) user(ctx context.Context, userID int64) (*auth.User, *account, error) {
	u, err := s.auth.UserByID(ctx, userID)
	if err != nil {
		return nil, nil, auth.NotAuthorized(err)
	}
	stored, err := s.store.Passkeys(ctx, userID)
	if err != nil {
		return nil, nil, auth.Unavailable(err)
	}
	a := &account{email: u.Email}
	for _, c := range stored {
		a.creds = append(a.creds, libraryCredential(c))
	}
	return u, a, nil
}

// withHandle sets a's WebAuthn user handle, the one stored for userID or,
// for a user who has none yet, a fresh one (a write, only then).
func (s *Service) withHandle(ctx context.Context, userID int64, a *account) error {
	h, err := s.store.FindPasskeyHandle(ctx, userID)
	if err == nil {
		a.handle = h
		return nil
	}
	if !errors.Is(err, auth.ErrNotFound) {
		return auth.Unavailable(err)
	}
	fresh := make([]byte, 32)
	rand.Read(fresh)
	err = auth.Commit(ctx, func(ctx context.Context) (err error) {
		a.handle, err = s.store.PasskeyHandle(ctx, userID, fresh)
		return err
	})
	if err != nil {
		return auth.NotAuthorized(err)
	}
	return nil
}

// CeremonyKey is the store key of the ceremony whose challenge is
// challenge (base64url, as the client data carries it). A hash, so that
// the table holds no value a client would present.
func CeremonyKey(challenge string) string {
	sum := sha256.Sum256([]byte("gatehouse/passkey-ceremony/v1\x00" + challenge))
	return hex.EncodeToString(sum[:])
}

// begin stores a begun ceremony.
func (s *Service) begin(ctx context.Context, kind Kind, sessionID string, userID int64, name string, data *webauthn.SessionData) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return auth.Unavailable(err)
	}
	now := s.auth.Now()
	c := &Ceremony{Key: CeremonyKey(data.Challenge), Kind: kind, SessionID: sessionID, UserID: userID,
		Name: name, Data: raw, ExpiresAt: now.Add(s.ttl)}
	if err := auth.Commit(ctx, func(ctx context.Context) error { return s.store.SaveCeremony(ctx, c, now) }); err != nil {
		return auth.NotAuthorized(err)
	}
	return nil
}

// take takes the ceremony whose challenge is challenge and checks that it
// is unexpired, of kind and bound to sessionID. Whatever is wrong with it,
// it is gone: a challenge is presented once.
func (s *Service) take(ctx context.Context, challenge string, kind Kind, sessionID string) (*Ceremony, *webauthn.SessionData, error) {
	var c *Ceremony
	err := auth.Commit(ctx, func(ctx context.Context) (err error) {
		c, err = s.store.TakeCeremony(ctx, CeremonyKey(challenge))
		return err
	})
	switch {
	case errors.Is(err, auth.ErrNotFound):
		return nil, nil, ErrChallengeInvalid
	case err != nil:
		return nil, nil, auth.Unavailable(err)
	case c.Kind != kind || c.SessionID != sessionID || !s.auth.Now().Before(c.ExpiresAt):
		return nil, nil, ErrChallengeInvalid
	}
	var data webauthn.SessionData
	if err := json.Unmarshal(c.Data, &data); err != nil {
		return nil, nil, auth.Unavailable(fmt.Errorf("passkey: stored ceremony unreadable: %w", err))
	}
	return c, &data, nil
}
