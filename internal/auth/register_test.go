package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authtest"
	"github.com/gatehouse/gatehouse/internal/csrf"
	"github.com/gatehouse/gatehouse/internal/password"
)

func TestRegister_Grant(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                  string
		accessTTL, sessionTTL time.Duration // 0: the defaults, 1h and 168h
		wantAccessExp         time.Time
	}{
		{"Defaults", 0, 0, t0.Add(time.Hour).Truncate(time.Second)},
		// The access token never outlives its session.
		{"SessionShorterThanAccess", time.Hour, 30 * time.Minute, t0.Add(30 * time.Minute).Truncate(time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(c *auth.Config) { c.AccessTTL, c.SessionTTL = tt.accessTTL, tt.sessionTTL })
			g := e.register(t, "  Ada@Example.COM ")
			sessionTTL := tt.sessionTTL
			if sessionTTL == 0 {
				sessionTTL = 7 * 24 * time.Hour
			}

			if g.UserID <= 0 {
				t.Errorf("Register: UserID = %d, want > 0", g.UserID)
			}
			if u, err := uuid.Parse(g.SessionID); err != nil || u.Version() != 4 {
				t.Errorf("Register: SessionID = %q, want a UUID v4", g.SessionID)
			}
			if want := t0.Add(sessionTTL); !g.RefreshExpiresAt.Equal(want) {
				t.Errorf("Register: RefreshExpiresAt = %v, want CreatedAt+SessionTTL = %v", g.RefreshExpiresAt, want)
			}
			if !g.AccessExpiresAt.Equal(tt.wantAccessExp) || g.AccessExpiresAt.After(g.RefreshExpiresAt) {
				t.Errorf("Register: AccessExpiresAt = %v, want %v (session ends %v)", g.AccessExpiresAt, tt.wantAccessExp, g.RefreshExpiresAt)
			}
			if len(g.CSRFSecret) != csrf.SecretSize {
				t.Errorf("Register: CSRFSecret is %d bytes, want %d", len(g.CSRFSecret), csrf.SecretSize)
			}
			c := claims(t, g.AccessToken)
			if c.Exp != g.AccessExpiresAt.Unix() || c.UserID != g.UserID || c.RUID != g.SessionID {
				t.Errorf("Register: access token claims %+v disagree with grant %+v", c, g)
			}

			p := mustAuth(t, e.svc, g.AccessToken)
			if p.UserID != g.UserID || p.SessionID != g.SessionID || p.AccessID != c.UID {
				t.Errorf("Authenticate(grant.AccessToken) = %+v, want user %d session %q uid %q", p, g.UserID, g.SessionID, c.UID)
			}
			if !p.ValidCSRF(csrf.Mask(g.CSRFSecret)) {
				t.Error("ValidCSRF(Mask(grant.CSRFSecret)) = false, want true")
			}
			u, err := e.svc.Me(t.Context(), p)
			if err != nil || u.Email != "ada@example.com" || u.ID != g.UserID {
				t.Errorf("Me() = %+v, %v; want user %d ada@example.com", u, err, g.UserID)
			}
			want := []auth.Event{{Type: auth.EventRegistered, UserID: g.UserID, SessionID: g.SessionID, IP: testClient.IP}}
			if d := cmp.Diff(e.events.Of(auth.EventRegistered), want); d != "" {
				t.Errorf("register events mismatch (-got +want):\n%s", d)
			}
		})
	}
}

func TestRegister_EmailTaken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.register(t, "ada@example.com")
	_, err := e.svc.Register(t.Context(), auth.Registration{
		Email: " ADA@example.com", Password: "another-good-pass", PasswordConfirmation: "another-good-pass",
	})
	checkErr(t, "Register(duplicate)", err, auth.ErrEmailTaken)
	var ae *auth.Error
	if !errors.As(err, &ae) || ae.Code != auth.CodeValidationFailed || ae.Message != "Email has already been taken" ||
		!cmp.Equal(ae.Details, map[string][]string{"email": {"has already been taken"}}) {
		t.Errorf("Register(duplicate) = %#v, want validation_failed with details email", err)
	}
}

func TestRegister_ConcurrentSameEmail(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 50
	errs := make([]error, n)
	authtest.Concurrently(n, func(i int) {
		_, errs[i] = e.svc.Register(context.Background(), auth.Registration{
			Email: "ada@example.com", Password: testPassword, PasswordConfirmation: testPassword,
		})
	})
	var ok, taken int
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, auth.ErrEmailTaken):
			taken++
		default:
			t.Errorf("Register #%d = %v, want success or ErrEmailTaken", i, err)
		}
	}
	if ok != 1 || taken != n-1 {
		t.Errorf("%d concurrent Register(same email): %d succeeded, %d ErrEmailTaken; want 1 and %d", n, ok, taken, n-1)
	}
	users, err := e.store.ListUsers(t.Context(), 0, 100)
	if err != nil || len(users) != 1 {
		t.Fatalf("ListUsers() = %d users, %v; want 1", len(users), err)
	}
	if sessions, err := e.store.ListSessions(t.Context(), users[0].ID, t0); err != nil || len(sessions) != 1 {
		t.Errorf("ListSessions(user) = %d sessions, %v; want 1 (nothing created on failure)", len(sessions), err)
	}
}

func TestRegister_Validation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		r           auth.Registration
		wantMessage string
		wantDetails map[string][]string
	}{
		{
			name:        "AllFieldsInOrder",
			r:           auth.Registration{Email: "Ada <ada@example.com>", Password: "日本語字", PasswordConfirmation: "x"},
			wantMessage: "Email is invalid Password is too short (minimum is 8 characters) Password confirmation doesn't match Password",
			wantDetails: map[string][]string{
				"email": {"is invalid"}, "password": {"is too short (minimum is 8 characters)"},
				"password_confirmation": {"doesn't match Password"},
			},
		},
		{
			name:        "Blank",
			r:           auth.Registration{Email: "   "},
			wantMessage: "Email can't be blank Password can't be blank Password confirmation can't be blank",
			wantDetails: map[string][]string{
				"email": {"can't be blank"}, "password": {"can't be blank"}, "password_confirmation": {"can't be blank"},
			},
		},
		{
			name:        "MissingConfirmation",
			r:           auth.Registration{Email: "ada@example.com", Password: testPassword},
			wantMessage: "Password confirmation can't be blank",
			wantDetails: map[string][]string{"password_confirmation": {"can't be blank"}},
		},
		{
			name:        "PasswordIsEmail",
			r:           auth.Registration{Email: "Katherine@Example.com", Password: "katherine@example.COM", PasswordConfirmation: "katherine@example.COM"},
			wantMessage: "Password can't be your email address",
			wantDetails: map[string][]string{"password": {"can't be your email address"}},
		},
		{
			name:        "CommonPassword",
			r:           auth.Registration{Email: "ada@example.com", Password: "password1", PasswordConfirmation: "password1"},
			wantMessage: "Password is too common",
			wantDetails: map[string][]string{"password": {"is too common"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			g, err := e.svc.Register(t.Context(), tt.r)
			want := &auth.Error{Code: auth.CodeValidationFailed, Message: tt.wantMessage, Details: tt.wantDetails}
			var got *auth.Error
			if !errors.As(err, &got) {
				t.Fatalf("Register(%+v) = %v, %v; want %v", tt.r, g, err, want)
			}
			if d := cmp.Diff(got, want); d != "" {
				t.Errorf("Register(%+v) error mismatch (-got +want):\n%s", tt.r, d)
			}
			if users, _ := e.store.ListUsers(t.Context(), 0, 10); len(users) != 0 {
				t.Errorf("Register(%+v) failed but created %d users", tt.r, len(users))
			}
		})
	}
}

func TestRegister_MinLengthConfigured(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *auth.Config) { c.PasswordMinLength = 15 })
	_, err := e.svc.Register(t.Context(), auth.Registration{Email: "ada@example.com", Password: "plum-kettle-42", PasswordConfirmation: "plum-kettle-42"})
	if err == nil || err.Error() != "validation_failed: Password is too short (minimum is 15 characters)" {
		t.Errorf("Register(14 characters) at minimum 15 = %v, want too short", err)
	}
	if _, err := auth.NewService(auth.Config{Store: e.store, Key: testKey(), Hasher: password.NewHasher(tinyParams),
		HashLimiter: password.NewLimiter(1, 0), PasswordMinLength: 257}); err == nil {
		t.Error("NewService(PasswordMinLength 257) = nil error, want above the maximum")
	}
}

func TestSignIn(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, email, password string
		locked                bool
		wantErr               error
		wantFailure           string // reason of the sign_in_failed event
	}{
		{name: "Right", email: " ADA@example.com", password: testPassword},
		{name: "WrongPassword", email: "ada@example.com", password: testPassword + "!", wantErr: auth.ErrInvalidCredentials, wantFailure: "wrong_password"},
		{name: "PasswordNotTrimmed", email: "ada@example.com", password: testPassword + " ", wantErr: auth.ErrInvalidCredentials, wantFailure: "wrong_password"},
		{name: "UnknownEmail", email: "grace@example.com", password: testPassword, wantErr: auth.ErrInvalidCredentials, wantFailure: "unknown_email"},
		{name: "Locked", email: "ada@example.com", password: testPassword, locked: true, wantErr: auth.ErrInvalidCredentials, wantFailure: "locked"},
		{name: "LockedWrongPassword", email: "ada@example.com", password: "nope-nope-nope", locked: true, wantErr: auth.ErrInvalidCredentials, wantFailure: "wrong_password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			reg := e.register(t, "ada@example.com")
			if tt.locked {
				if err := e.store.SetLocked(t.Context(), reg.UserID, t0); err != nil {
					t.Fatal(err)
				}
			}
			g, err := e.svc.SignIn(t.Context(), auth.Credentials{Email: tt.email, Password: tt.password, Client: testClient})
			checkErr(t, "SignIn("+tt.email+")", err, tt.wantErr)
			var wantFailed, wantSignedIn []auth.Event
			if tt.wantErr != nil {
				if g != nil {
					t.Errorf("SignIn(%q) = %+v with an error", tt.email, g)
				}
				userID := reg.UserID
				if tt.wantFailure == "unknown_email" {
					userID = 0
				}
				wantFailed = []auth.Event{{Type: auth.EventSignInFailed, UserID: userID, IP: testClient.IP, Reason: tt.wantFailure}}
			} else {
				if g.UserID != reg.UserID || g.SessionID == reg.SessionID {
					t.Errorf("SignIn() = user %d session %q, want user %d and a new session", g.UserID, g.SessionID, reg.UserID)
				}
				mustAuth(t, e.svc, g.AccessToken)
				wantSignedIn = []auth.Event{{Type: auth.EventSignedIn, UserID: reg.UserID, SessionID: g.SessionID, IP: testClient.IP}}
			}
			if d := cmp.Diff(e.events.Of(auth.EventSignInFailed), wantFailed, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("sign_in_failed events mismatch (-got +want):\n%s", d)
			}
			if d := cmp.Diff(e.events.Of(auth.EventSignedIn), wantSignedIn, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("sign_in events mismatch (-got +want):\n%s", d)
			}
		})
	}
}

// Users imported from Rails carry bcrypt digests; their first successful
// sign-in replaces the digest with argon2id.
func TestSignIn_RehashesBcrypt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const pw = "rails-era-secret-7"
	digest, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	imported := auth.User{ID: 42, Email: "grace@example.com", PasswordHash: string(digest), CreatedAt: t0, UpdatedAt: t0}
	if st, err := e.store.ImportUsers(t.Context(), []auth.User{imported}); err != nil || st[0] != auth.ImportInserted {
		t.Fatalf("ImportUsers() = %v, %v", st, err)
	}
	if _, err := e.svc.SignIn(t.Context(), auth.Credentials{Email: "grace@example.com", Password: "wrong-wrong"}); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Errorf("SignIn(imported, wrong password) = %v, want ErrInvalidCredentials", err)
	}
	if u, _ := e.store.UserByID(t.Context(), 42); u.PasswordHash != string(digest) {
		t.Errorf("after a failed sign-in the hash changed to %q", u.PasswordHash)
	}
	g := e.signIn(t, "Grace@Example.com", pw)
	if g.UserID != 42 {
		t.Errorf("SignIn(imported) UserID = %d, want 42", g.UserID)
	}
	u, err := e.store.UserByID(t.Context(), 42)
	if err != nil || !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
		t.Fatalf("after sign-in UserByID(42).PasswordHash = %.20q, %v; want argon2id", u.PasswordHash, err)
	}
	e.signIn(t, "grace@example.com", pw) // the new hash verifies
}

// TestSignIn_BcryptOver72Bytes: a Devise user whose password was longer
// than bcrypt's 72 bytes signs in as they did in Rails (bcrypt reads the
// first 72), and that sign-in stores argon2id of the whole password, so from
// then on a password differing only after byte 72 is refused.
func TestSignIn_BcryptOver72Bytes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	prefix := strings.Repeat("correct horse battery staple ", 3)[:72]
	pw, sameFirst72 := prefix+" and more", prefix+" but not the same"
	digest, err := bcrypt.GenerateFromPassword([]byte(prefix), bcrypt.MinCost) // what Rails' gem stored for pw
	if err != nil {
		t.Fatal(err)
	}
	imported := auth.User{ID: 43, Email: "devise@example.com", PasswordHash: string(digest), CreatedAt: t0, UpdatedAt: t0}
	if st, err := e.store.ImportUsers(t.Context(), []auth.User{imported}); err != nil || st[0] != auth.ImportInserted {
		t.Fatalf("ImportUsers() = %v, %v", st, err)
	}
	if _, err := e.svc.SignIn(t.Context(), auth.Credentials{Email: "devise@example.com", Password: "x" + pw[1:]}); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Errorf("SignIn(other first 72 bytes) = %v, want ErrInvalidCredentials", err)
	}
	e.signIn(t, "devise@example.com", pw)
	u, err := e.store.UserByID(t.Context(), 43)
	if err != nil || !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
		t.Fatalf("after sign-in UserByID(43).PasswordHash = %.20q, %v; want argon2id", u.PasswordHash, err)
	}
	if _, err := e.svc.SignIn(t.Context(), auth.Credentials{Email: "devise@example.com", Password: sameFirst72}); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Errorf("SignIn(same first 72 bytes, after the upgrade) = %v, want ErrInvalidCredentials", err)
	}
	e.signIn(t, "devise@example.com", pw)
}

func TestSignIn_HashQueueFull(t *testing.T) {
	t.Parallel()
	slots := password.NewLimiter(1, time.Millisecond)
	e := newEnv(t, func(c *auth.Config) { c.HashLimiter = slots })
	e.register(t, "ada@example.com")
	release, _, err := slots.Acquire(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	for _, call := range []string{"SignIn", "Register"} {
		var err error
		if call == "SignIn" {
			_, err = e.svc.SignIn(t.Context(), auth.Credentials{Email: "ada@example.com", Password: testPassword})
		} else {
			_, err = e.svc.Register(t.Context(), auth.Registration{Email: "grace@example.com", Password: testPassword, PasswordConfirmation: testPassword})
		}
		var ae *auth.Error
		if !errors.As(err, &ae) || ae.Code != auth.CodeUnavailable || ae.RetryAfter <= 0 {
			t.Errorf("%s with the hash queue full = %#v, want code unavailable with RetryAfter > 0", call, err)
		}
		if !errors.Is(err, password.ErrBusy) {
			t.Errorf("%s with the hash queue full = %v, want it to wrap password.ErrBusy for the logs", call, err)
		}
	}
}
