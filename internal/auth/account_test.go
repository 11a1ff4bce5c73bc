package auth_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// threeSessions registers ada (session 0 at t0) and signs her in twice, a
// minute apart each, returning the three grants oldest first.
func threeSessions(t *testing.T, e *env) []*auth.Grant {
	t.Helper()
	gs := []*auth.Grant{e.register(t, "ada@example.com")}
	for range 2 {
		e.clock.Advance(time.Minute)
		gs = append(gs, e.signIn(t, "ada@example.com", testPassword))
	}
	return gs
}

func TestSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	gs := threeSessions(t, e)
	p := mustAuth(t, e.svc, gs[1].AccessToken)
	got, err := e.svc.Sessions(t.Context(), p)
	if err != nil {
		t.Fatalf("Sessions() = %v", err)
	}
	var want []auth.SessionInfo
	for i := 2; i >= 0; i-- { // newest first
		created := t0.Add(time.Duration(i) * time.Minute)
		want = append(want, auth.SessionInfo{
			ID: gs[i].SessionID, CreatedAt: created, LastUsedAt: created, ExpiresAt: gs[i].RefreshExpiresAt,
			IP: testClient.IP, UserAgent: testClient.UserAgent, Current: i == 1,
			Methods: []auth.Method{auth.MethodPassword}, AuthenticatedAt: created,
		})
	}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("Sessions() mismatch (-got +want):\n%s", d)
	}
}

func TestRevokeSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	gs := threeSessions(t, e)
	other := e.register(t, "grace@example.com")
	p := mustAuth(t, e.svc, gs[2].AccessToken)

	if err := e.svc.RevokeSession(t.Context(), p, gs[0].SessionID, testClient); err != nil {
		t.Fatalf("RevokeSession(own) = %v", err)
	}
	checkAuth(t, e.svc, "revoked own session", gs[0].AccessToken, auth.ErrNotAuthorized)
	checkAuth(t, e.svc, "current session", gs[2].AccessToken, nil)

	for name, id := range map[string]string{"other user's": other.SessionID, "unknown": "00000000-0000-4000-8000-000000000000"} {
		err := e.svc.RevokeSession(t.Context(), p, id, testClient)
		checkErr(t, "RevokeSession("+name+")", err, auth.ErrNotFound)
	}
	checkAuth(t, e.svc, "other user's session", other.AccessToken, nil)
	want := auth.Event{Type: auth.EventSessionRevoked, UserID: gs[0].UserID, SessionID: gs[0].SessionID, IP: testClient.IP, Reason: "user"}
	if d := cmp.Diff(e.events.of(auth.EventSessionRevoked), []auth.Event{want}); d != "" {
		t.Errorf("session_revoked events mismatch (-got +want):\n%s", d)
	}
}

func TestRevokeOtherSessions(t *testing.T) {
	t.Parallel()
	for _, includeCurrent := range []bool{false, true} {
		e := newEnv(t)
		gs := threeSessions(t, e)
		other := e.register(t, "grace@example.com")
		if err := e.svc.RevokeOtherSessions(t.Context(), mustAuth(t, e.svc, gs[1].AccessToken), includeCurrent, testClient); err != nil {
			t.Fatalf("RevokeOtherSessions(includeCurrent %t) = %v", includeCurrent, err)
		}
		var current error
		wantEvents := 2
		if includeCurrent {
			current, wantEvents = auth.ErrNotAuthorized, 3
		}
		checkAuth(t, e.svc, "current session", gs[1].AccessToken, current)
		checkAuth(t, e.svc, "oldest session", gs[0].AccessToken, auth.ErrNotAuthorized)
		checkAuth(t, e.svc, "newest session", gs[2].AccessToken, auth.ErrNotAuthorized)
		checkAuth(t, e.svc, "other user's session", other.AccessToken, nil)
		if n := len(e.events.of(auth.EventSessionRevoked)); n != wantEvents {
			t.Errorf("RevokeOtherSessions(includeCurrent %t): %d session_revoked events, want %d", includeCurrent, n, wantEvents)
		}
	}
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	const newPassword = "new-quiet-lantern-9"
	e := newEnv(t)
	gs := threeSessions(t, e)
	p := mustAuth(t, e.svc, gs[1].AccessToken)
	change := func(current, pw, confirmation string) (*auth.Grant, error) {
		return e.svc.ChangePassword(t.Context(), p, auth.PasswordChange{
			CurrentPassword: current, Password: pw, PasswordConfirmation: confirmation, Client: testClient,
		})
	}

	_, err := change("not-my-password", newPassword, newPassword)
	want := &auth.Error{Code: auth.CodeValidationFailed, Message: "Current password is invalid",
		Details: map[string][]string{"current_password": {"is invalid"}}}
	var got *auth.Error
	if !errors.As(err, &got) || !cmp.Equal(got, want) {
		t.Errorf("ChangePassword(wrong current) = %#v, want %#v", err, want)
	}
	_, err = change(testPassword, "short", "short")
	if !errors.As(err, &got) || !cmp.Equal(got.Details, map[string][]string{"password": {"is too short (minimum is 8 characters)"}}) {
		t.Errorf("ChangePassword(short) = %#v, want a password detail", err)
	}
	for _, g := range gs {
		checkAuth(t, e.svc, "session after refused changes", g.AccessToken, nil)
	}

	e.clock.Advance(time.Minute)
	g, err := change(testPassword, newPassword, newPassword)
	if err != nil {
		t.Fatalf("ChangePassword() = %v", err)
	}
	if g.SessionID != gs[1].SessionID || g.AccessToken == gs[1].AccessToken {
		t.Errorf("ChangePassword() = session %q, want %q rotated to a new token", g.SessionID, gs[1].SessionID)
	}
	if gen := e.generation(t, g.SessionID); gen != 1 {
		t.Errorf("after ChangePassword the current session is at generation %d, want 1", gen)
	}
	checkAuth(t, e.svc, "new token of the current session", g.AccessToken, nil)
	checkAuth(t, e.svc, "oldest session", gs[0].AccessToken, auth.ErrNotAuthorized)
	checkAuth(t, e.svc, "newest session", gs[2].AccessToken, auth.ErrNotAuthorized)
	// The token it replaced is the previous generation, valid in grace as
	// after a refresh (the same client holds both).
	checkAuth(t, e.svc, "replaced token in grace", gs[1].AccessToken, nil)
	e.clock.Advance(10 * time.Second)
	checkAuth(t, e.svc, "replaced token after grace", gs[1].AccessToken, auth.ErrNotAuthorized)
	if _, err := e.svc.SignIn(t.Context(), auth.Credentials{Email: "ada@example.com", Password: testPassword}); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Errorf("SignIn(old password) = %v, want ErrInvalidCredentials", err)
	}
	e.signIn(t, "ada@example.com", newPassword)
	if n := len(e.events.of(auth.EventPasswordChanged)); n != 1 {
		t.Errorf("%d password_changed events, want 1", n)
	}
}

func TestSignIn_SessionCap(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *auth.Config) { c.MaxSessionsPerUser = 3 })
	gs := threeSessions(t, e)
	e.clock.Advance(time.Minute)
	fourth := e.signIn(t, "ada@example.com", testPassword)

	checkAuth(t, e.svc, "oldest session after the 4th sign-in", gs[0].AccessToken, auth.ErrNotAuthorized)
	for _, g := range append(gs[1:], fourth) {
		checkAuth(t, e.svc, "a newer session", g.AccessToken, nil)
	}
	list, err := e.svc.Sessions(t.Context(), mustAuth(t, e.svc, fourth.AccessToken))
	if err != nil || len(list) != 3 {
		t.Errorf("Sessions() = %d sessions, %v; want 3", len(list), err)
	}
	want := []auth.Event{{Type: auth.EventSessionRevoked, UserID: fourth.UserID, SessionID: gs[0].SessionID, IP: testClient.IP, Reason: "session_cap"}}
	if d := cmp.Diff(e.events.of(auth.EventSessionRevoked), want); d != "" {
		t.Errorf("session_revoked events mismatch (-got +want):\n%s", d)
	}
}
