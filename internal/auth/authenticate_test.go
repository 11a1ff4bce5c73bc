package auth_test

import (
	"bytes"
	"encoding/base64"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/csrf"
	"github.com/gatehouse/gatehouse/internal/token"
)

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  func(*auth.Config)
		// presented changes the world and returns the token to present.
		presented func(t *testing.T, e *env, g *auth.Grant) string
		want      error
	}{
		{
			name:      "Valid",
			presented: func(t *testing.T, e *env, g *auth.Grant) string { return g.AccessToken },
		},
		{
			name: "ValidUntilExpiry",
			presented: func(t *testing.T, e *env, g *auth.Grant) string {
				e.clock.Advance(g.AccessExpiresAt.Sub(t0) - time.Second)
				return g.AccessToken
			},
		},
		{
			// No leeway at expiry: one node must not accept what another
			// calls expired.
			name: "ExpiredAtExp",
			presented: func(t *testing.T, e *env, g *auth.Grant) string {
				e.clock.Advance(g.AccessExpiresAt.Sub(t0))
				return g.AccessToken
			},
			want: auth.ErrTokenExpired,
		},
		{
			name: "AfterSignOut",
			presented: func(t *testing.T, e *env, g *auth.Grant) string {
				if err := e.svc.SignOut(t.Context(), mustAuth(t, e.svc, g.AccessToken), testClient); err != nil {
					t.Fatalf("SignOut() = %v", err)
				}
				return g.AccessToken
			},
			want: auth.ErrNotAuthorized,
		},
		{
			// The token's exp is the session's end: a token past its exp
			// is token_expired, never not_authorized, even when its
			// session is over too.
			name: "SessionPastExpiresAt",
			cfg:  func(c *auth.Config) { c.SessionTTL = 30 * time.Minute },
			presented: func(t *testing.T, e *env, g *auth.Grant) string {
				e.clock.Advance(g.RefreshExpiresAt.Sub(t0))
				return g.AccessToken
			},
			want: auth.ErrTokenExpired,
		},
		{
			name: "UnknownSession",
			presented: func(t *testing.T, e *env, g *auth.Grant) string {
				return forge(t, testKey(), token.Claims{Exp: g.AccessExpiresAt.Unix(), UserID: g.UserID, UID: token.NewUID(), RUID: token.NewUID()})
			},
			want: auth.ErrNotAuthorized,
		},
		{
			name: "OtherUsersSession",
			presented: func(t *testing.T, e *env, g *auth.Grant) string {
				c := claims(t, g.AccessToken)
				c.UserID++
				return forge(t, testKey(), c)
			},
			want: auth.ErrNotAuthorized,
		},
		{
			// Newer-looking but unknown uid: the reload path runs and still
			// refuses.
			name: "ForeignUID",
			presented: func(t *testing.T, e *env, g *auth.Grant) string {
				c := claims(t, g.AccessToken)
				c.UID = token.NewUID()
				return forge(t, testKey(), c)
			},
			want: auth.ErrNotAuthorized,
		},
		{
			name: "OtherKey",
			presented: func(t *testing.T, e *env, g *auth.Grant) string {
				return forge(t, bytes.Repeat([]byte("k"), 32), claims(t, g.AccessToken))
			},
			want: auth.ErrNotAuthorized,
		},
		{
			name:      "TamperedSignature",
			presented: func(t *testing.T, e *env, g *auth.Grant) string { return tamper(g.AccessToken, -5) },
			want:      auth.ErrNotAuthorized,
		},
		{
			name:      "TamperedPayload",
			presented: func(t *testing.T, e *env, g *auth.Grant) string { return tamper(g.AccessToken, 30) },
			want:      auth.ErrNotAuthorized,
		},
		{
			name:      "RefreshTokenInstead",
			presented: func(t *testing.T, e *env, g *auth.Grant) string { return g.RefreshToken },
			want:      auth.ErrNotAuthorized,
		},
		{
			name:      "Empty",
			presented: func(t *testing.T, e *env, g *auth.Grant) string { return "" },
			want:      auth.ErrNotAuthorized,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var opts []func(*auth.Config)
			if tt.cfg != nil {
				opts = append(opts, tt.cfg)
			}
			e := newEnv(t, opts...)
			g := e.register(t, "ada@example.com")
			checkAuth(t, e.svc, tt.name, tt.presented(t, e, g), tt.want)
		})
	}
}

// The cache is what makes Authenticate cheap, so a user deleted behind the
// service's back (the CLI writes to the store) keeps working on a node that
// has the session cached, until the node is told: deleting a user must be
// followed by SessionChanged(id, 0, true) for each session DeleteUser
// returns, which is what the change feed does. A node without the session
// cached, and every refresh, refuse at once.
func TestAuthenticate_DeletedUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.register(t, "ada@example.com")
	mustAuth(t, e.svc, g.AccessToken)
	ids, err := e.store.DeleteUser(t.Context(), g.UserID)
	if err != nil || len(ids) != 1 || ids[0] != g.SessionID {
		t.Fatalf("DeleteUser() = %q, %v; want [%q]", ids, err, g.SessionID)
	}
	checkAuth(t, e.svc, "deleted user, cached, not told", g.AccessToken, nil)
	checkAuth(t, e.newNode(t), "deleted user, other node", g.AccessToken, auth.ErrNotAuthorized)
	_, err = e.svc.Refresh(t.Context(), auth.RefreshRequest{RefreshToken: g.RefreshToken})
	checkErr(t, "Refresh(deleted user)", err, auth.ErrNotAuthorized)
	for _, id := range ids {
		e.svc.SessionChanged(id, 0, true)
	}
	checkAuth(t, e.svc, "deleted user, told", g.AccessToken, auth.ErrNotAuthorized)
}

func TestPrincipal_ValidCSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.register(t, "ada@example.com")
	p := mustAuth(t, e.svc, g.AccessToken)
	masked := csrf.Mask(g.CSRFSecret)
	tests := []struct {
		name, tok string
		want      bool
	}{
		{"Masked", masked, true},
		{"MaskedAgain", csrf.Mask(g.CSRFSecret), true},
		{"Unmasked", base64.StdEncoding.EncodeToString(g.CSRFSecret), true},
		{"OtherSecretMasked", csrf.Mask(csrf.NewSecret()), false},
		{"OtherSecretUnmasked", base64.StdEncoding.EncodeToString(csrf.NewSecret()), false},
		{"MaskedTampered", tamper(masked, 70), false},
		{"UnmaskedUnpadded", base64.RawStdEncoding.EncodeToString(g.CSRFSecret), false},
		{"AccessToken", g.AccessToken, false},
		{"Empty", "", false},
	}
	for _, tt := range tests {
		if got := p.ValidCSRF(tt.tok); got != tt.want {
			t.Errorf("%s: ValidCSRF(%q) = %t, want %t", tt.name, tt.tok, got, tt.want)
		}
	}
}

// During the grace window after a refresh both the previous and the new
// CSRF secret are accepted (a tab that has not seen the refresh yet keeps
// working), whichever of the two access tokens authenticated; after it
// only the new secret, with the new token.
func TestAuthenticate_CSRFDuringGrace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g0 := e.register(t, "ada@example.com")
	e.clock.Advance(time.Minute)
	g1 := e.refresh(t, auth.RefreshRequest{AccessToken: g0.AccessToken})
	oldCSRF, newCSRF := csrf.Mask(g0.CSRFSecret), csrf.Mask(g1.CSRFSecret)

	e.clock.Advance(9 * time.Second) // grace is 10 s
	for _, tok := range []string{g0.AccessToken, g1.AccessToken} {
		p := mustAuth(t, e.svc, tok)
		if !p.ValidCSRF(oldCSRF) || !p.ValidCSRF(newCSRF) {
			t.Errorf("in grace, principal of gen %s: ValidCSRF(old, new) = %t, %t; want true, true",
				p.AccessID, p.ValidCSRF(oldCSRF), p.ValidCSRF(newCSRF))
		}
	}

	e.clock.Advance(time.Second)
	checkAuth(t, e.svc, "previous token after grace", g0.AccessToken, auth.ErrNotAuthorized)
	p := mustAuth(t, e.svc, g1.AccessToken)
	if p.ValidCSRF(oldCSRF) || !p.ValidCSRF(newCSRF) {
		t.Errorf("after grace: ValidCSRF(old, new) = %t, %t; want false, true", p.ValidCSRF(oldCSRF), p.ValidCSRF(newCSRF))
	}
}
