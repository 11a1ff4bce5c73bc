package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
)

func TestCreateUser(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u, err := e.svc.CreateUser(ctx, "  Admin.Made@Example.COM ", testPassword)
	if err != nil {
		t.Fatalf("CreateUser() = %v", err)
	}
	if u.ID <= 0 || u.Email != "admin.made@example.com" || !u.CreatedAt.Equal(t0.Truncate(time.Microsecond)) {
		t.Errorf("CreateUser() = %+v, want a new id, the normalized email and created now", u)
	}
	if list, err := e.svc.UserSessions(ctx, u.ID); err != nil || len(list) != 0 {
		t.Errorf("UserSessions(new user) = %d sessions, %v; want none: creating signs nobody in", len(list), err)
	}
	e.signIn(t, "admin.made@example.com", testPassword)
	if got := e.events.Of(auth.EventUserCreated); len(got) != 1 || got[0].UserID != u.ID {
		t.Errorf("user_created events = %+v, want one for user %d", got, u.ID)
	}
}

func TestCreateUser_Invalid(t *testing.T) {
	e := newEnv(t)
	e.register(t, "taken@example.com")
	tests := []struct {
		name, email, password string
		want                  string // the error message
	}{
		{name: "blankEmail", email: " ", password: testPassword, want: "Email can't be blank"},
		{name: "badEmail", email: "not an email", password: testPassword, want: "Email is invalid"},
		{name: "shortPassword", email: "new@example.com", password: "short", want: "Password is too short (minimum is 8 characters)"},
		{name: "commonPassword", email: "new@example.com", password: "password123", want: "Password is too common"},
		{name: "passwordIsEmail", email: "longlocalpart@example.com", password: "LongLocalPart", want: "Password can't be your email address"},
		{name: "emailTaken", email: "TAKEN@example.com", password: testPassword, want: "Email has already been taken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := e.svc.CreateUser(context.Background(), tt.email, tt.password)
			var ae *auth.Error
			if !errors.As(err, &ae) || ae.Code != auth.CodeValidationFailed || ae.Message != tt.want {
				t.Errorf("CreateUser(%q, %q) = %+v, %v; want validation error %q", tt.email, tt.password, u, err, tt.want)
			}
		})
	}
}

func TestFindUser(t *testing.T) {
	e := newEnv(t)
	g := e.register(t, "find.me@example.com")
	tests := []struct {
		ref     string
		wantErr error
	}{
		{ref: "1"},
		{ref: "find.me@example.com"},
		{ref: " Find.Me@EXAMPLE.com"},
		{ref: "2", wantErr: auth.ErrNotFound},
		{ref: "nobody@example.com", wantErr: auth.ErrNotFound},
	}
	for _, tt := range tests {
		u, err := e.svc.FindUser(context.Background(), tt.ref)
		checkErr(t, "FindUser("+tt.ref+")", err, tt.wantErr)
		if tt.wantErr == nil && (err != nil || u.ID != g.UserID) {
			t.Errorf("FindUser(%q) = %+v, want user %d", tt.ref, u, g.UserID)
		}
	}
}

func TestUsers_Pages(t *testing.T) {
	e := newEnv(t)
	for _, email := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		e.register(t, email)
	}
	ctx := context.Background()
	first, err := e.svc.Users(ctx, 0, 2)
	if err != nil || len(first) != 2 || first[0].Email != "a@example.com" || first[1].Email != "b@example.com" {
		t.Fatalf("Users(0, 2) = %+v, %v; want a and b", first, err)
	}
	rest, err := e.svc.Users(ctx, first[1].ID, 2)
	if err != nil || len(rest) != 1 || rest[0].Email != "c@example.com" {
		t.Errorf("Users(%d, 2) = %+v, %v; want c", first[1].ID, rest, err)
	}
}

func TestLockUser(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	g1 := e.register(t, "lock.me@example.com")
	g2 := e.signIn(t, "lock.me@example.com", testPassword)
	mustAuth(t, e.svc, g1.AccessToken)

	if err := e.svc.LockUser(ctx, g1.UserID); err != nil {
		t.Fatalf("LockUser() = %v", err)
	}
	for name, g := range map[string]*auth.Grant{"first": g1, "second": g2} {
		checkAuth(t, e.svc, name+" session after lock", g.AccessToken, auth.ErrNotAuthorized)
		_, err := e.svc.Refresh(ctx, auth.RefreshRequest{RefreshToken: g.RefreshToken})
		checkErr(t, "Refresh("+name+" session after lock)", err, auth.ErrNotAuthorized)
	}
	_, err := e.svc.SignIn(ctx, auth.Credentials{Email: "lock.me@example.com", Password: testPassword, Client: testClient})
	checkErr(t, "SignIn(locked, right password)", err, auth.ErrInvalidCredentials)
	u, _ := e.svc.FindUser(ctx, "lock.me@example.com")
	if !u.LockedAt.Equal(t0.Truncate(time.Microsecond)) {
		t.Errorf("LockedAt = %v, want %v", u.LockedAt, t0)
	}
	if got := e.events.Of(auth.EventAccountLocked); len(got) != 1 || got[0].Reason != "admin" {
		t.Errorf("account_locked events = %+v, want one with reason admin", got)
	}

	// Less than the access TTL: the old token must fail as revoked, not
	// as expired.
	e.clock.Advance(time.Minute)
	if err := e.svc.LockUser(ctx, g1.UserID); err != nil {
		t.Fatalf("LockUser(already locked) = %v", err)
	}
	if again, _ := e.svc.FindUser(ctx, "1"); !again.LockedAt.Equal(u.LockedAt) {
		t.Errorf("LockedAt after locking again = %v, want the first lock's %v", again.LockedAt, u.LockedAt)
	}

	if err := e.svc.UnlockUser(ctx, g1.UserID); err != nil {
		t.Fatalf("UnlockUser() = %v", err)
	}
	e.signIn(t, "lock.me@example.com", testPassword)
	checkAuth(t, e.svc, "old session after unlock", g1.AccessToken, auth.ErrNotAuthorized)
}

func TestLockUnlock_NotFound(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	checkErr(t, "LockUser(42)", e.svc.LockUser(ctx, 42), auth.ErrNotFound)
	checkErr(t, "UnlockUser(42)", e.svc.UnlockUser(ctx, 42), auth.ErrNotFound)
	checkErr(t, "DeleteUser(42)", e.svc.DeleteUser(ctx, 42), auth.ErrNotFound)
	_, err := e.svc.UserSessions(ctx, 42)
	checkErr(t, "UserSessions(42)", err, auth.ErrNotFound)
	checkErr(t, "RevokeSessionByID(unknown)", e.svc.RevokeSessionByID(ctx, "00000000-0000-4000-8000-000000000000"), auth.ErrNotFound)
}

// TestUnlockUser_ClearsBackOff: failures no longer lock an account (an
// attacker could lock anyone out); the account-wide back-off they cause
// is what an administrator's unlock clears.
func TestUnlockUser_ClearsBackOff(t *testing.T) {
	e := newEnv(t, withLimits(auth.Limits{PairFreeFailures: 100, AccountFreeFailures: 2}))
	ctx := context.Background()
	g := e.register(t, "forgetful@example.com")
	wrong := auth.Credentials{Email: "forgetful@example.com", Password: "not the password", Client: testClient}
	for range 3 {
		e.svc.SignIn(ctx, wrong)
	}
	if _, err := e.svc.SignIn(ctx, wrong); !isRateLimited(err) {
		t.Fatalf("SignIn after 3 failures with AccountFreeFailures 2 = %v, want rate limited", err)
	}
	if u, _ := e.svc.FindUser(ctx, "forgetful@example.com"); u.Locked() {
		t.Errorf("after failed sign-ins: locked, want only an administrator to lock")
	}
	mustAuth(t, e.svc, g.AccessToken)
	if err := e.svc.UnlockUser(ctx, g.UserID); err != nil {
		t.Fatalf("UnlockUser() = %v", err)
	}
	e.signIn(t, "forgetful@example.com", testPassword)
}

func TestDeleteUser(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	g := e.register(t, "leaving@example.com")
	other := e.register(t, "staying@example.com")
	if err := e.svc.DeleteUser(ctx, g.UserID); err != nil {
		t.Fatalf("DeleteUser() = %v", err)
	}
	checkAuth(t, e.svc, "deleted user's session", g.AccessToken, auth.ErrNotAuthorized)
	mustAuth(t, e.svc, other.AccessToken)
	_, err := e.svc.FindUser(ctx, "leaving@example.com")
	checkErr(t, "FindUser(deleted)", err, auth.ErrNotFound)
	checkErr(t, "DeleteUser(again)", e.svc.DeleteUser(ctx, g.UserID), auth.ErrNotFound)
	if got := e.events.Of(auth.EventUserDeleted); len(got) != 1 || got[0].UserID != g.UserID {
		t.Errorf("user_deleted events = %+v, want one for user %d", got, g.UserID)
	}
	again := e.register(t, "leaving@example.com")
	if again.UserID == g.UserID {
		t.Errorf("re-registered email got the deleted user's id %d", g.UserID)
	}
}

func TestUserSessions_RevokeSessionByID(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	g1 := e.register(t, "two.sessions@example.com")
	e.clock.Advance(time.Minute)
	g2 := e.signIn(t, "two.sessions@example.com", testPassword)

	list, err := e.svc.UserSessions(ctx, g1.UserID)
	if err != nil || len(list) != 2 || list[0].ID != g2.SessionID || list[1].ID != g1.SessionID {
		t.Fatalf("UserSessions() = %+v, %v; want [%s %s], newest first", list, err, g2.SessionID, g1.SessionID)
	}
	if list[0].IP != testClient.IP || list[0].UserAgent != testClient.UserAgent {
		t.Errorf("UserSessions()[0] = %+v, want the client's IP and user agent", list[0])
	}

	if err := e.svc.RevokeSessionByID(ctx, g1.SessionID); err != nil {
		t.Fatalf("RevokeSessionByID() = %v", err)
	}
	checkAuth(t, e.svc, "revoked session", g1.AccessToken, auth.ErrNotAuthorized)
	mustAuth(t, e.svc, g2.AccessToken)
	if err := e.svc.RevokeSessionByID(ctx, g1.SessionID); err != nil {
		t.Errorf("RevokeSessionByID(already revoked) = %v, want nil", err)
	}
	revoked := e.events.Of(auth.EventSessionRevoked)
	if len(revoked) != 1 || revoked[0].SessionID != g1.SessionID || revoked[0].Reason != "admin" {
		t.Errorf("session_revoked events = %+v, want one for %s with reason admin", revoked, g1.SessionID)
	}
	if list, _ := e.svc.UserSessions(ctx, g1.UserID); len(list) != 1 || !strings.EqualFold(list[0].ID, g2.SessionID) {
		t.Errorf("UserSessions() after revoking one = %+v, want only %s", list, g2.SessionID)
	}
}
