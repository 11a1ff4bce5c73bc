package browsertest

import (
	"context"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// Authenticator is a virtual authenticator in the tab (the DevTools
// WebAuthn domain): the browser sends every WebAuthn ceremony of the page
// to it instead of to a real device.
type Authenticator struct {
	b  *Browser
	id webauthn.AuthenticatorID
}

// AddPlatformAuthenticator gives the tab an authenticator like a laptop's
// or phone's built-in one with a fingerprint reader: CTAP 2.1 over the
// internal transport, keeping discoverable (resident) credentials, and
// verifying its user at every ceremony without a prompt.
func (b *Browser) AddPlatformAuthenticator() *Authenticator {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	// No UI: nothing would click it, and a ceremony would wait for it.
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{EnableUI: new(false)}); err != nil {
		b.t.Fatalf("WebAuthn.enable: %v", err)
	}
	res, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol:            webauthn.AuthenticatorProtocolCtap2,
			Ctap2version:        webauthn.Ctap2versionCtap21,
			Transport:           webauthn.AuthenticatorTransportInternal,
			HasResidentKey:      true,
			HasUserVerification: true,
			IsUserVerified:      true,
			// The protocol's default is true, but the field is sent as
			// written: left false, every ceremony would wait for a touch.
			AutomaticPresenceSimulation: true,
		},
	})
	if err != nil {
		b.t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	return &Authenticator{b: b, id: res.AuthenticatorID}
}

// Credentials lists the credentials the authenticator holds.
func (a *Authenticator) Credentials() []*webauthn.Credential {
	a.b.t.Helper()
	ctx, cancel := context.WithTimeout(a.b.ctx, stepTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: a.id})
	if err != nil {
		a.b.t.Fatalf("WebAuthn.getCredentials: %v", err)
	}
	return res.Credentials
}
