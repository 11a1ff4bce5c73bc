package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authtest"
	"github.com/gatehouse/gatehouse/internal/keyring"
	"github.com/gatehouse/gatehouse/internal/sqlite"
)

func TestStore(t *testing.T) {
	authtest.RunStoreTests(t, func(t *testing.T) auth.Store { return newStore(t) })
}

// newStore opens a fresh database in a temporary directory, closed when tb
// ends.
func newStore(tb testing.TB) *sqlite.Store {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "gatehouse.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		tb.Fatalf("Open(%q) = %v", path, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close() = %v", err)
		}
	})
	return s
}

var t0 = time.Date(2025, time.March, 14, 9, 26, 53, 589793000, time.UTC)

func testUser(email string) *auth.User {
	return &auth.User{Email: email, PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", CreatedAt: t0, UpdatedAt: t0}
}

func testSession(id string, userID int64) *auth.Session {
	return &auth.Session{
		ID: id, UserID: userID, RotatedAt: t0, AccessExpiresAt: t0.Add(15 * time.Minute),
		CreatedAt: t0, LastUsedAt: t0, ExpiresAt: t0.Add(30 * 24 * time.Hour),
		IP: "203.0.113.7", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
	}
}

func mustCreateUser(tb testing.TB, s *sqlite.Store, email, sessionID string) *auth.User {
	tb.Helper()
	u := testUser(email)
	if err := s.CreateUser(context.Background(), u, testSession(sessionID, 0)); err != nil {
		tb.Fatalf("CreateUser(%q) = %v", email, err)
	}
	return u
}

// User ids are never handed out twice, even after the newest user is
// deleted: a stale token naming the id must not match a new account.
func TestCreateUser_IDsNeverReused(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	mustCreateUser(t, s, "ada@example.com", "s1")
	newest := mustCreateUser(t, s, "grace@example.com", "s2")
	if _, err := s.DeleteUser(ctx, newest.ID); err != nil {
		t.Fatalf("DeleteUser(%d) = %v", newest.ID, err)
	}
	next := mustCreateUser(t, s, "edsger@example.com", "s3")
	if next.ID <= newest.ID {
		t.Errorf("CreateUser after DeleteUser(%d): ID = %d, want greater", newest.ID, next.ID)
	}
}

func TestCreateSession_UnknownUser(t *testing.T) {
	s := newStore(t)
	_, err := s.CreateSession(t.Context(), testSession("s1", 42), 0)
	if !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("CreateSession for missing user 42 = %v, want ErrNotFound", err)
	}
}

func TestCreateSession_DuplicateID(t *testing.T) {
	s := newStore(t)
	u := mustCreateUser(t, s, "ada@example.com", "s1")
	_, err := s.CreateSession(t.Context(), testSession("s1", u.ID), 0)
	if err == nil || errors.Is(err, auth.ErrNotFound) || errors.Is(err, auth.ErrEmailTaken) {
		t.Errorf("CreateSession(%q) with a taken id = %v, want an internal error", "s1", err)
	}
}

func TestUserStore_NotFound(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	if err := s.SetLocked(ctx, 42, t0); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("SetLocked(42) = %v, want ErrNotFound", err)
	}
	if _, err := s.DeleteUser(ctx, 42); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("DeleteUser(42) = %v, want ErrNotFound", err)
	}
}

func TestImportUsers_NonPositiveID(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	in := []auth.User{*testUser("ada@example.com"), *testUser("grace@example.com")}
	in[0].ID = 7
	if _, err := s.ImportUsers(ctx, in); err == nil {
		t.Fatalf("ImportUsers with id 0 in row 1 = nil error, want one")
	}
	if _, err := s.UserByID(ctx, 7); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("UserByID(7) after a rejected import = %v, want ErrNotFound: nothing may be inserted", err)
	}
}

func TestListUsers_NoLimit(t *testing.T) {
	s := newStore(t)
	mustCreateUser(t, s, "ada@example.com", "s1")
	for _, limit := range []int{0, -1} {
		users, err := s.ListUsers(t.Context(), 0, limit)
		if err != nil || len(users) != 0 {
			t.Errorf("ListUsers(0, %d) = %d users, %v, want none", limit, len(users), err)
		}
	}
}

func TestPasskeyStore(t *testing.T) {
	authtest.RunPasskeyStoreTests(t, func(t *testing.T) authtest.PasskeyStore { return newStore(t) })
}

func TestKeyringStore(t *testing.T) {
	authtest.RunKeyringStoreTests(t, func(t *testing.T) keyring.Store { return newStore(t) })
}

func TestMFAStore(t *testing.T) {
	authtest.RunMFAStoreTests(t, func(t *testing.T) authtest.MFAStore { return newStore(t) })
}
