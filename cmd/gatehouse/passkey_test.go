package main

import (
	"io"
	"slices"
	"testing"
)

func TestPasskeyRelyingParty(t *testing.T) {
	for _, tc := range []struct {
		name        string
		args        []string
		wantOn      bool
		wantRPID    string
		wantOrigins []string
		wantErr     bool
	}{
		{name: "Off", args: nil},
		{name: "FromPublicURL", args: []string{"--public-url", "https://app.example.com:8443/base"},
			wantOn: true, wantRPID: "app.example.com", wantOrigins: []string{"https://app.example.com:8443"}},
		{name: "ParentDomain", args: []string{"--public-url", "https://app.example.com", "--webauthn-rp-id", "example.com"},
			wantOn: true, wantRPID: "example.com", wantOrigins: []string{"https://app.example.com"}},
		{name: "RPIDAlone", args: []string{"--webauthn-rp-id", "example.com"},
			wantOn: true, wantRPID: "example.com", wantOrigins: []string{"https://example.com"}},
		{name: "Explicit", args: []string{"--webauthn-rp-id", "example.com", "--webauthn-origins", "https://a.example.com,http://localhost.example.com:3000"},
			wantOn: true, wantRPID: "example.com", wantOrigins: []string{"https://a.example.com", "http://localhost.example.com:3000"}},
		{name: "OriginOffDomain", args: []string{"--webauthn-rp-id", "example.com", "--webauthn-origins", "https://example.org"}, wantErr: true},
		{name: "OriginsWithoutRP", args: []string{"--webauthn-origins", "https://example.com"}, wantErr: true},
		{name: "LookalikeDomain", args: []string{"--webauthn-rp-id", "example.com", "--webauthn-origins", "https://evilexample.com"}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseConfig("serve", tc.args, func(string) string { return "" }, io.Discard)
			if tc.wantErr {
				if err == nil {
					t.Errorf("parseConfig(%q) = nil error, want a usage error", tc.args)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseConfig(%q) = %v", tc.args, err)
			}
			rp, on, err := cfg.Passkeys.relyingParty(cfg.Mail.PublicURL)
			if err != nil || on != tc.wantOn || rp.RPID != tc.wantRPID || !slices.Equal(rp.Origins, tc.wantOrigins) {
				t.Errorf("relyingParty(%q) = %+v, %v, %v; want on %v, %s, %q", tc.args, rp, on, err, tc.wantOn, tc.wantRPID, tc.wantOrigins)
			}
		})
	}
}
