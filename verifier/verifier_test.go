package verifier_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/token"
	"github.com/gatehouse/gatehouse/verifier"
)

// TestVerifyRefuses: what a downstream service must not accept, each
// with the error that tells 401 from 503.
func TestVerifyRefuses(t *testing.T) {
	g, secret := newGatehouse(t, nil)
	d := startDownstream(t, g.url(), secret)
	live := g.signIns(t, "refuse@example.com", 1)[0].Access

	other, err := token.NewIssuer([]byte("not-the-gatehouse-root-key-32byt"), time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := other.Issue(token.Claims{Exp: time.Now().Add(time.Hour).Unix(), UserID: 1, UID: token.NewUID(), RUID: token.NewUID()})
	if err != nil {
		t.Fatal(err)
	}
	mine, _ := token.NewIssuer(rootKey, time.Hour, 0)
	expired, _ := mine.Issue(token.Claims{Exp: time.Now().Add(-time.Second).Unix(), UserID: 1, UID: token.NewUID(), RUID: token.NewUID()})
	parts := strings.Split(live, ".")
	for _, tc := range []struct {
		name, token string
		want        error
	}{
		{"Empty", "", verifier.ErrNoToken},
		{"Garbage", "not-a-jwt", verifier.ErrInvalidToken},
		{"OtherKey", forged, verifier.ErrInvalidToken},
		{"AlgNone", `eyJhbGciOiJub25lIn0.` + parts[1] + `.`, verifier.ErrInvalidToken},
		{"TamperedPayload", parts[0] + "." + parts[1] + "x." + parts[2], verifier.ErrInvalidToken},
		{"Expired", expired, verifier.ErrExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := d.v.Verify(tc.token); !errors.Is(err, tc.want) {
				t.Errorf("Verify(%.30q) = %v; want %v", tc.token, err, tc.want)
			}
		})
	}
	if _, err := d.v.Verify(live); err != nil {
		t.Errorf("Verify(live token) = %v; want nil", err)
	}
}

// TestNotRunningRefuses: a verifier that has not heard the stream's
// backlog vouches for nothing.
func TestNotRunningRefuses(t *testing.T) {
	g, secret := newGatehouse(t, nil)
	live := g.signIns(t, "early@example.com", 1)[0].Access
	v, err := verifier.New(verifier.Config{URL: g.url(), ServiceToken: secret, HS256Key: rootKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(live); !errors.Is(err, verifier.ErrStale) {
		t.Errorf("Verify before Run = %v; want ErrStale", err)
	}
}

// TestWrongServiceToken: a stream Gatehouse refuses never makes the
// verifier healthy.
func TestWrongServiceToken(t *testing.T) {
	g, _ := newGatehouse(t, nil)
	v, err := verifier.New(verifier.Config{URL: g.url(), ServiceToken: "ghst_wrong", HS256Key: rootKey})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	v.Run(ctx)
	if v.Healthy() {
		t.Error("Healthy() after a refused stream = true; want false")
	}
}

// TestJWKS: with EdDSA tokens the verifier holds no secret: it verifies
// with the key Gatehouse publishes, and still follows revocations.
func TestJWKS(t *testing.T) {
	ed, err := token.GenerateKey("ed-1", token.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := token.NewIssuer(rootKey, time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := tokens.SetKeys([]token.Key{{ID: token.RootKeyID, Alg: token.HS256, Material: rootKey}, ed}, ed.ID); err != nil {
		t.Fatal(err)
	}
	g, secret := newGatehouse(t, tokens)
	d := startDownstreamWith(t, verifier.Config{URL: g.url(), ServiceToken: secret, MaxSilence: maxSilence})
	sessions := g.signIns(t, "jwks@example.com", 2)
	if !strings.Contains(sessions[0].Access[:40], "eyJhbGciOiJFZERTQSIs") {
		t.Fatalf("Gatehouse issued %q; want an EdDSA token", sessions[0].Access[:40])
	}
	p, err := d.v.Verify(sessions[0].Access)
	if err != nil || p.UserID != 1 {
		t.Fatalf("Verify(EdDSA token) = %+v, %v; want user 1", p, err)
	}
	g.call(t, "DELETE", "/v1/auth/sign_out", sessions[1].Access, nil, nil)
	waitFor(t, "EdDSA sign-out downstream", 5*time.Second, func() bool { return revoked(d.v, sessions[1].Access) })

	// An HS256 token signed with the root key is no good here: the
	// verifier holds no secret and accepts only the published algorithms.
	hs, _ := token.NewIssuer(rootKey, time.Hour, 0)
	c := token.Claims{Exp: time.Now().Add(time.Hour).Unix(), UserID: 1, UID: token.NewUID(), RUID: token.NewUID()}
	if tok, _ := hs.Issue(c); !errors.Is(func() error { _, err := d.v.Verify(tok); return err }(), verifier.ErrInvalidToken) {
		t.Errorf("Verify(HS256 token) with JWKS only: want ErrInvalidToken")
	}
}

// TestMiddlewareCookie: the access cookie authenticates reads only; a
// state-changing request must carry the token in the header, since only
// Gatehouse can check the CSRF token that guards cookie-authenticated
// changes.
func TestMiddlewareCookie(t *testing.T) {
	g, secret := newGatehouse(t, nil)
	d := startDownstream(t, g.url(), secret)
	access := g.signIns(t, "cookie@example.com", 1)[0].Access
	h := d.v.Middleware(bare)
	for _, tc := range []struct {
		method, header string
		want           int
	}{
		{"GET", "", http.StatusNoContent},
		{"POST", "", http.StatusUnauthorized},
		{"POST", "Bearer " + access, http.StatusNoContent},
	} {
		req := httptest.NewRequest(tc.method, "/", nil)
		req.AddCookie(&http.Cookie{Name: "jwt_access", Value: access})
		if tc.header != "" {
			req.Header.Set("Authorization", tc.header)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != tc.want {
			t.Errorf("%s with the cookie, Authorization %t: status %d, want %d", tc.method, tc.header != "", w.Code, tc.want)
		}
	}
}
