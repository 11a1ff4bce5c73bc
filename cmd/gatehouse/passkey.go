package main

import (
	"errors"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/passkey"
)

// PasskeyConfig is the passkey (WebAuthn) part of Config.
type PasskeyConfig struct {
	RPID    string
	RPName  string
	Origins []string
}

// register adds the relying party settings: a serving node's alone (the
// admin commands remove passkeys without any ceremony).
func (c *PasskeyConfig) register(r registrar) {
	r.add(groupServer, "webauthn-rp-id", "", "relying party id of passkeys: the domain they belong to, e.g. example.com (default: the host of --public-url; with neither, passkeys are off)", stringVar(&c.RPID))
	r.add(groupServer, "webauthn-rp-name", "Gatehouse", "the service's name as authenticators show it when a passkey is made", stringVar(&c.RPName))
	r.add(groupServer, "webauthn-origins", "", "comma-separated exact origins of the pages that run passkey ceremonies, on the relying party's domain (default: the origin of --public-url, else https://<rp id>)", parsedVar(&c.Origins, "origins", parseOrigins))
}

// relyingParty resolves the passkey settings: the flags, filled in from
// --public-url (the app's address, which mails link to). on is false when
// neither names a relying party: passkeys are off and their endpoints
// answer 404.
func (c *PasskeyConfig) relyingParty(publicURL string) (cfg passkey.Config, on bool, err error) {
	if c.RPID == "" && publicURL == "" {
		if len(c.Origins) > 0 {
			return cfg, false, usagef("--webauthn-origins needs --webauthn-rp-id (or --public-url)")
		}
		return cfg, false, nil
	}
	if publicURL != "" {
		if cfg, err = passkey.ConfigFromURL(publicURL); err != nil {
			return cfg, false, usagef("%v", err)
		}
	}
	if c.RPID != "" {
		cfg.RPID = c.RPID
		if publicURL == "" {
			cfg.Origins = []string{"https://" + c.RPID}
		}
	}
	if len(c.Origins) > 0 {
		cfg.Origins = c.Origins
	}
	cfg.RPName = c.RPName
	if err := cfg.Check(); err != nil {
		return cfg, false, usagef("--webauthn-origins: %v (set --webauthn-rp-id and --webauthn-origins together)", err)
	}
	return cfg, true, nil
}

// newPasskeys builds the passkey service of a serving node: nil when
// passkeys are off. Passkeys stay a second factor even then: a node whose
// relying party was removed must not let a password alone into an account
// that has a passkey. Such a user finishes a sign-in with another factor,
// or once the relying party is back (or after an administrator's users mfa
// reset). The admin commands run no ceremonies either; they register
// passkeys as a second factor alone, so that an administrator can list and
// reset them (users mfa) whatever the relying party.
func newPasskeys(cfg *Config, svc *auth.Service, store auth.Store) (*passkey.Service, error) {
	pks, keeps := store.(passkey.Store)
	rp, on, err := cfg.Passkeys.relyingParty(cfg.Mail.PublicURL)
	switch {
	case err != nil:
		return nil, err
	case cfg.issuesNoTokens || !on:
		if keeps {
			svc.AddSecondFactor(passkey.NewFactor(pks))
		}
		return nil, nil
	case !keeps:
		return nil, errors.New("passkeys: this database keeps no passkeys")
	}
	return passkey.New(svc, pks, rp)
}
