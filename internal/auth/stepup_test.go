package auth_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/token"
)

// fakeFactor is a second factor whose enrolment the test sets; its
// secret checks are the test's own (a func passed to VerifyFactor).
type fakeFactor struct {
	kind     auth.Method
	mu       sync.Mutex
	enrolled map[int64]bool
	resets   int
}

func (f *fakeFactor) Kind() auth.Method { return f.kind }

func (f *fakeFactor) Enrolled(_ context.Context, id int64) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.enrolled[id], nil
}

func (f *fakeFactor) Reset(_ context.Context, id int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.enrolled, id)
	f.resets++
	return nil
}

// withFactor registers a fake TOTP on e's service and enrols email's user.
func withFactor(t *testing.T, e *env, email string) (*fakeFactor, int64) {
	t.Helper()
	f := &fakeFactor{kind: auth.MethodTOTP, enrolled: map[int64]bool{}}
	e.svc.AddSecondFactor(f)
	g := e.register(t, email)
	f.enrolled[g.UserID] = true
	markFactorAdded(t, e, g.UserID)
	return f, g.UserID
}

// markFactorAdded does to the user row what adding a real factor does
// (the store's triggers set its second-factor hint): it stores a factor
// row, a recovery code no fake reads.
func markFactorAdded(t *testing.T, e *env, id int64) {
	t.Helper()
	if err := e.store.ReplaceRecoveryCodes(context.Background(), id, [][]byte{[]byte("marker")}, t0); err != nil {
		t.Fatalf("ReplaceRecoveryCodes(%d) = %v", id, err)
	}
}

func TestPendingSignIn(t *testing.T) {
	e := newEnv(t)
	withFactor(t, e, "ada@example.com")
	ctx := t.Context()
	g := e.signIn(t, "ada@example.com", testPassword)
	if !slices.Equal(g.SecondFactors, []auth.Method{auth.MethodTOTP}) {
		t.Errorf("SignIn of a user with TOTP: SecondFactors = %q, want [totp]", g.SecondFactors)
	}
	if want := t0.Add(5 * time.Minute); !g.RefreshExpiresAt.Equal(want) {
		t.Errorf("pending session ends %v, want %v (the pending TTL)", g.RefreshExpiresAt, want)
	}
	p := mustAuth(t, e.svc, g.AccessToken)
	if !p.Pending || p.AAL() != 1 {
		t.Errorf("pending principal: Pending %v, AAL %d; want true, 1", p.Pending, p.AAL())
	}
	// A service that checks tokens itself, with the root key as the seed's
	// clients and package verifier do, refuses a half-done sign-in.
	rootKeyOnly, err := token.NewIssuer(testKey(), time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rootKeyOnly.Verify(g.AccessToken, t0); !errors.Is(err, token.ErrSignature) {
		t.Errorf("the pending token checked with the root key: err %v, want %v", err, token.ErrSignature)
	}
	_, err = e.svc.Refresh(ctx, auth.RefreshRequest{RefreshToken: g.RefreshToken, Client: testClient})
	checkErr(t, "Refresh(pending)", err, auth.ErrMFARequired)
	_, err = e.svc.Refresh(ctx, auth.RefreshRequest{AccessToken: g.AccessToken, Client: testClient})
	checkErr(t, "Refresh(pending access token)", err, auth.ErrMFARequired)
	checkErr(t, "Reauthenticated(pending)", e.svc.Reauthenticated(ctx, p, auth.MethodTOTP), auth.ErrMFARequired)

	// Of concurrent finishes exactly one wins.
	const n = 4
	grants := make([]*auth.Grant, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { grants[i], errs[i] = e.svc.FinishSecondFactor(ctx, p, auth.MethodTOTP, testClient) })
	}
	wg.Wait()
	var full *auth.Grant
	for i, err := range errs {
		switch {
		case err == nil && full == nil:
			full = grants[i]
		case err == nil:
			t.Errorf("two concurrent FinishSecondFactor succeeded, want one")
		case !errors.Is(err, auth.ErrNotAuthorized):
			t.Errorf("FinishSecondFactor (loser) = %v, want ErrNotAuthorized", err)
		}
	}
	if full == nil {
		t.Fatal("no FinishSecondFactor succeeded")
	}
	fp := mustAuth(t, e.svc, full.AccessToken)
	if fp.Pending || fp.AAL() != 2 || !slices.Equal(fp.Methods, []auth.Method{auth.MethodPassword, auth.MethodTOTP}) {
		t.Errorf("finished principal: Pending %v, AAL %d, Methods %q", fp.Pending, fp.AAL(), fp.Methods)
	}
	if want := t0.Add(7 * 24 * time.Hour); !full.RefreshExpiresAt.Equal(want) {
		t.Errorf("finished session ends %v, want %v (the session TTL from now)", full.RefreshExpiresAt, want)
	}
	_, err = e.svc.FinishSecondFactor(ctx, fp, auth.MethodTOTP, testClient)
	checkErr(t, "FinishSecondFactor(complete session)", err, auth.ErrNotPending)
	if got := len(e.events.Of(auth.EventSecondFactorPending)); got != 1 {
		t.Errorf("second_factor_pending events = %d, want 1", got)
	}
}

// TestPasswordChangeNeedsStepUp: with a factor, the current password is
// not enough to change it; a fresh proof with the factor is.
func TestPasswordChangeNeedsStepUp(t *testing.T) {
	e := newEnv(t)
	_, id := withFactor(t, e, "ada@example.com")
	ctx := t.Context()
	full, err := e.svc.SignInWithFactor(ctx, id, auth.MethodPasskey, testClient)
	if err != nil {
		t.Fatalf("SignInWithFactor = %v", err)
	}
	p := mustAuth(t, e.svc, full.AccessToken)
	if p.Pending || p.AAL() != 2 {
		t.Errorf("passkey sign-in: Pending %v, AAL %d; want false, 2", p.Pending, p.AAL())
	}
	change := auth.PasswordChange{CurrentPassword: testPassword, Password: "a-new-long-password-9", PasswordConfirmation: "a-new-long-password-9", Client: testClient}
	e.clock.Advance(11 * time.Minute)
	_, err = e.svc.ChangePassword(ctx, p, change)
	checkErr(t, "ChangePassword 11 min after sign-in", err, auth.ErrReauthenticationRequired)
	checkErr(t, "ReauthenticateWithPassword(user with a factor)", e.svc.ReauthenticateWithPassword(ctx, p, testPassword, testClient), auth.ErrSecondFactorNeeded)
	checkErr(t, "RequireRecentAuth", e.svc.RequireRecentAuth(ctx, p), auth.ErrReauthenticationRequired)
	if err := e.svc.Reauthenticated(ctx, p, auth.MethodTOTP); err != nil {
		t.Fatalf("Reauthenticated = %v", err)
	}
	if _, err := e.svc.ChangePassword(ctx, p, change); err != nil {
		t.Errorf("ChangePassword after a step-up = %v", err)
	}
}

// TestRequireRecentAuth: a user without a factor steps up with the
// password; one who enrolled a factor after signing in with a password
// must step up with it.
func TestRequireRecentAuth(t *testing.T) {
	e := newEnv(t)
	f := &fakeFactor{kind: auth.MethodTOTP, enrolled: map[int64]bool{}}
	e.svc.AddSecondFactor(f)
	ctx := t.Context()
	g := e.register(t, "ada@example.com")
	p := mustAuth(t, e.svc, g.AccessToken)
	checkErr(t, "RequireRecentAuth just after sign-in", e.svc.RequireRecentAuth(ctx, p), nil)
	e.clock.Advance(10*time.Minute + time.Second)
	checkErr(t, "RequireRecentAuth past the step-up age", e.svc.RequireRecentAuth(ctx, p), auth.ErrReauthenticationRequired)
	checkErr(t, "ReauthenticateWithPassword(wrong)", e.svc.ReauthenticateWithPassword(ctx, p, "not-the-password", testClient), auth.ErrPasswordInvalid)
	checkErr(t, "ReauthenticateWithPassword", e.svc.ReauthenticateWithPassword(ctx, p, testPassword, testClient), nil)
	checkErr(t, "RequireRecentAuth after a password step-up", e.svc.RequireRecentAuth(ctx, p), nil)
	f.enrolled[g.UserID] = true
	checkErr(t, "RequireRecentAuth after enrolling a factor elsewhere", e.svc.RequireRecentAuth(ctx, p), auth.ErrReauthenticationRequired)
}

// TestPendingDoesNotEvict: pending sign-ins, however many, end none of
// the owner's sessions.
func TestPendingDoesNotEvict(t *testing.T) {
	e := newEnv(t, func(c *auth.Config) { c.MaxSessionsPerUser = 2 })
	withFactor(t, e, "ada@example.com")
	var pending []*auth.Grant
	for range 3 {
		pending = append(pending, e.signIn(t, "ada@example.com", testPassword))
	}
	if got := len(e.events.Of(auth.EventSessionRevoked)); got != 0 {
		t.Errorf("3 pending sign-ins with a cap of 2 revoked %d sessions, want 0", got)
	}
	for i, g := range pending {
		checkAuth(t, e.svc, "pending "+string(rune('0'+i)), g.AccessToken, nil)
	}
}

func TestResetSecondFactors(t *testing.T) {
	e := newEnv(t)
	f, id := withFactor(t, e, "ada@example.com")
	had, err := e.svc.ResetSecondFactors(t.Context(), id)
	if err != nil || !slices.Equal(had, []auth.Method{auth.MethodTOTP}) {
		t.Fatalf("ResetSecondFactors = %q, %v, want [totp]", had, err)
	}
	if f.enrolled[id] {
		t.Errorf("ResetSecondFactors left the factor enrolled")
	}
	if p := mustAuth(t, e.svc, e.signIn(t, "ada@example.com", testPassword).AccessToken); p.Pending {
		t.Errorf("SignIn after ResetSecondFactors is pending, want complete")
	}
}

// TestFactorRemovedAudit: a factor the user removes and one an
// administrator resets are told apart in the audit trail (the reason
// "admin:" and the kind, as the CLI's other events say "admin"); the
// owner is mailed either way.
func TestFactorRemovedAudit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		remove func(t *testing.T, e *env, id int64) error
		want   auth.Event // the factor_removed event, but for its UserID
	}{
		{
			name: "ByTheUser",
			remove: func(t *testing.T, e *env, id int64) error {
				return e.svc.FactorRemoved(t.Context(), id, auth.MethodTOTP, testClient)
			},
			want: auth.Event{Type: auth.EventFactorRemoved, IP: testClient.IP, Reason: "totp"},
		},
		{
			name: "ByAnAdministrator",
			remove: func(t *testing.T, e *env, id int64) error {
				_, err := e.svc.ResetSecondFactors(t.Context(), id)
				return err
			},
			want: auth.Event{Type: auth.EventFactorRemoved, Reason: "admin:totp"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			_, id := withFactor(t, e, "ada@example.com")
			if err := tc.remove(t, e, id); err != nil {
				t.Fatalf("removing the factor = %v", err)
			}
			want := tc.want
			want.UserID = id
			if got := e.events.Of(auth.EventFactorRemoved); len(got) != 1 || got[0] != want {
				t.Errorf("factor_removed events = %+v, want [%+v]", got, want)
			}
			mails, err := e.svc.Mails(t.Context(), 0, 10)
			if err != nil || len(mails) == 0 || mails[0].Kind != auth.KindFactorRemoved || mails[0].To != "ada@example.com" {
				t.Errorf("Mails() = %+v, %v; want the last a factor_removed notice to ada@example.com", mails, err)
			}
		})
	}
}

// TestFactorRemovedDropsOrphanRecoveryCodes: recovery codes outlive the
// removal of one factor only while another factor they back up is left.
func TestFactorRemovedDropsOrphanRecoveryCodes(t *testing.T) {
	for _, tc := range []struct {
		name      string
		left      []auth.Method // enrolled after the removal, besides recovery codes
		wantCodes bool
	}{
		{name: "last factor removed", left: nil, wantCodes: false},
		{name: "another factor left", left: []auth.Method{auth.MethodPasskey}, wantCodes: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			totp := &fakeFactor{kind: auth.MethodTOTP, enrolled: map[int64]bool{}}
			passkey := &fakeFactor{kind: auth.MethodPasskey, enrolled: map[int64]bool{}}
			codes := &fakeFactor{kind: auth.MethodRecoveryCode, enrolled: map[int64]bool{}}
			for _, f := range []*fakeFactor{totp, passkey, codes} {
				e.svc.AddSecondFactor(f)
			}
			id := e.register(t, "ada@example.com").UserID
			codes.enrolled[id] = true
			for _, m := range tc.left {
				if m == auth.MethodPasskey {
					passkey.enrolled[id] = true
				}
			}
			// TOTP was enrolled and has just been removed by its package.
			if err := e.svc.FactorRemoved(t.Context(), id, auth.MethodTOTP, testClient); err != nil {
				t.Fatalf("FactorRemoved: %v", err)
			}
			got, _ := codes.Enrolled(t.Context(), id)
			if got != tc.wantCodes {
				t.Errorf("recovery codes enrolled after the removal = %v, want %v", got, tc.wantCodes)
			}
		})
	}
}

// TestFactorRemovedDropsUsedRecoveryCodes: with every code used, removing
// the last factor leaves no kind enrolled at all, and the used codes must
// still go: a code given back later (mfa gives back a code a refused
// finish spent) would otherwise revive one with no factor behind it.
func TestFactorRemovedDropsUsedRecoveryCodes(t *testing.T) {
	e := newEnv(t)
	codes := &fakeFactor{kind: auth.MethodRecoveryCode, enrolled: map[int64]bool{}}
	e.svc.AddSecondFactor(&fakeFactor{kind: auth.MethodTOTP, enrolled: map[int64]bool{}})
	e.svc.AddSecondFactor(codes)
	id := e.register(t, "ada@example.com").UserID
	if err := e.svc.FactorRemoved(t.Context(), id, auth.MethodTOTP, testClient); err != nil {
		t.Fatalf("FactorRemoved: %v", err)
	}
	if codes.resets != 1 {
		t.Errorf("recovery codes reset %d times after the last factor went with every code used, want 1", codes.resets)
	}
}

// TestClientsWithoutAddressShareOneBudget: a passkey sign-in names no
// session, and a request whose peer address did not parse has no address
// either. Such requests share one budget instead of none: both the
// passwordless begin (which stores a ceremony) and its finish.
func TestClientsWithoutAddressShareOneBudget(t *testing.T) {
	e := newEnv(t, withLimits(auth.Limits{SignInPerIP: 5}))
	failing := func(context.Context) error { return auth.ErrInvalidCredentials }
	tests := []struct {
		name    string
		request func(auth.Client) error
	}{
		{"passwordless_begin", func(c auth.Client) error { return e.svc.AllowRequest(context.Background(), "sign_in", c) }},
		{"passwordless_finish", func(c auth.Client) error {
			return e.svc.VerifyFactor(context.Background(), nil, auth.MethodPasskey, c, failing)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			admitted := 0
			for range 20 {
				if isRateLimited(tt.request(auth.Client{})) {
					break
				}
				admitted++
			}
			if admitted != 5 {
				t.Errorf("requests without an address admitted %d times before 429, want the budget's 5", admitted)
			}
			if err := tt.request(testClient); isRateLimited(err) {
				t.Errorf("a request from a known address = %v, want its own budget", err)
			}
		})
	}
}
