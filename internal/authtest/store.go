// Package authtest holds what the tests of several packages share: the
// contract suite that every auth.Store backend passes (RunStoreTests), a
// fixed clock, and the gate for tests that need a real server.
package authtest

import (
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// RunStoreTests runs the auth.Store contract against a backend. newStore
// must return a fresh, empty, migrated store for the (sub)test it is given
// and register its cleanup with t.Cleanup. The subtests run in parallel,
// each on its own store.
func RunStoreTests(t *testing.T, newStore func(t *testing.T) auth.Store) {
	t.Helper()
	for _, tc := range append(storeTests(), mailTests()...) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newStore(t))
		})
	}
}

type storeTest struct {
	name string
	run  func(t *testing.T, st auth.Store)
}

func storeTests() []storeTest {
	return []storeTest{
		{"CreateUser", testCreateUser},
		{"CreateUser_EmailTaken", testCreateUserEmailTaken},
		{"CreateUser_NoSession", testCreateUserNoSession},
		{"CreateUser_Atomic", testCreateUserAtomic},
		{"CreateUser_ConcurrentSameEmail", testCreateUserConcurrentSameEmail},
		{"UserByEmail", testUserByEmail},
		{"UserByID", testUserByID},
		{"SetPasswordHash", testSetPasswordHash},
		{"SetLocked", testSetLocked},
		{"DeleteUser", testDeleteUser},
		{"ListUsers", testListUsers},
		{"ImportUsers", testImportUsers},
		{"ImportUsers_Idempotent", testImportUsersIdempotent},
		{"ImportUsers_Conflict", testImportUsersConflict},
		{"ImportUsers_ThenCreateUser", testImportUsersThenCreateUser},
		{"ImportUsers_Empty", testImportUsersEmpty},

		{"CreateSession", testCreateSession},
		{"Session_NotFound", testSessionNotFound},
		{"CreateSession_MaxPerUser", testCreateSessionMaxPerUser},
		{"CreateSession_MaxPerUserSkipsDead", testCreateSessionMaxPerUserSkipsDead},
		{"CreateSession_NoEviction", testCreateSessionNoEviction},
		{"RotateSession", testRotateSession},
		{"RotateSession_StaleGeneration", testRotateSessionStaleGeneration},
		{"RotateSession_Revoked", testRotateSessionRevoked},
		{"RotateSession_NotFound", testRotateSessionNotFound},
		{"RotateSession_Concurrent", testRotateSessionConcurrent},
		{"ConcurrentWrites_FailAlone", testConcurrentWritesFailAlone},
		{"RevokeSession", testRevokeSession},
		{"RevokeUserSessions", testRevokeUserSessions},
		{"ListSessions", testListSessions},
		{"DeleteEndedSessions", testDeleteEndedSessions},
		{"SessionChanges", testSessionChanges},
		{"SessionChanges_Empty", testSessionChangesEmpty},
		{"SessionChanges_Concurrent", testSessionChangesConcurrent},
		{"ServiceTokens", testServiceTokens},

		{"SessionProof_RoundTrip", testSessionProofRoundTrip},
		{"FinishSession", testFinishSession},
		{"FinishSession_Refused", testFinishSessionRefused},
		{"FinishSession_Concurrent", testFinishSessionConcurrent},
		{"MaxPerUser_SkipsPending", testMaxPerUserSkipsPending},
		{"SetSessionProof", testSetSessionProof},

		{"Ready", testReady},
	}
}

// t0 is when the fixtures happen. Like every time the service hands a store,
// it is UTC and truncated to microseconds, which every backend must
// round-trip exactly. Never modified.
var t0 = time.Date(2025, time.March, 14, 9, 26, 53, 589793000, time.UTC)

// newUser returns an unsaved user with a plausible hash.
func newUser(email string) *auth.User {
	return &auth.User{
		Email:        email,
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		CreatedAt:    t0,
		UpdatedAt:    t0,
	}
}

// newSession returns an unsaved live session of userID created at createdAt.
func newSession(userID int64, createdAt time.Time) *auth.Session {
	return &auth.Session{
		ID:              newSessionID(),
		UserID:          userID,
		Generation:      0,
		RotatedAt:       createdAt,
		AccessExpiresAt: createdAt.Add(15 * time.Minute),
		CreatedAt:       createdAt,
		LastUsedAt:      createdAt,
		ExpiresAt:       createdAt.Add(30 * 24 * time.Hour),
		IP:              "203.0.113.7",
		UserAgent:       "Mozilla/5.0 (X11; Linux x86_64) authtest",
	}
}

// newSessionID returns a random UUID v4, the form of real session ids.
func newSessionID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// mustCreateUser registers email with a first session created at t0.
func mustCreateUser(t *testing.T, st auth.Store, email string) (*auth.User, *auth.Session) {
	t.Helper()
	u, s := newUser(email), newSession(0, t0)
	if err := st.CreateUser(t.Context(), u, s); err != nil {
		t.Fatalf("CreateUser(%q) = %v", email, err)
	}
	return u, s
}

// mustCreateSession stores s with no cap on sessions per user.
func mustCreateSession(t *testing.T, st auth.Store, s *auth.Session) *auth.Session {
	t.Helper()
	if _, err := st.CreateSession(t.Context(), s, 0); err != nil {
		t.Fatalf("CreateSession(%q, 0) = %v", s.ID, err)
	}
	return s
}

// mustSession fetches session id and checks its times are UTC.
func mustSession(t *testing.T, st auth.Store, id string) *auth.Session {
	t.Helper()
	s, err := st.Session(t.Context(), id)
	if err != nil {
		t.Fatalf("Session(%q) = %v", id, err)
	}
	checkSessionUTC(t, "Session("+id+")", s)
	return s
}

// checkSessionUTC reports the time fields of s whose location is not UTC.
func checkSessionUTC(t *testing.T, call string, s *auth.Session) {
	t.Helper()
	checkUTC(t, call, map[string]time.Time{
		"RotatedAt": s.RotatedAt, "AccessExpiresAt": s.AccessExpiresAt, "CreatedAt": s.CreatedAt,
		"LastUsedAt": s.LastUsedAt, "ExpiresAt": s.ExpiresAt, "RevokedAt": s.RevokedAt,
	})
}

// checkUserUTC reports the time fields of u whose location is not UTC.
func checkUserUTC(t *testing.T, call string, u *auth.User) {
	t.Helper()
	checkUTC(t, call, map[string]time.Time{"CreatedAt": u.CreatedAt, "UpdatedAt": u.UpdatedAt, "LockedAt": u.LockedAt})
}

func checkUTC(t *testing.T, call string, times map[string]time.Time) {
	t.Helper()
	for name, tm := range times {
		if tm.Location() != time.UTC {
			t.Errorf("%s: %s location = %v, want UTC", call, name, tm.Location())
		}
	}
}

// checkNotFound fails unless err is auth.ErrNotFound.
func checkNotFound(t *testing.T, call string, err error) {
	t.Helper()
	if !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("%s = %v, want ErrNotFound", call, err)
	}
}

// sorted returns a sorted copy of ids, for comparing sets of ids that the
// contract returns in no particular order. nil and empty compare equal.
func sorted(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	if len(out) == 0 {
		return []string{}
	}
	return out
}

// Concurrently calls fn(0) … fn(n-1) in n goroutines released together,
// and waits for all of them: the start of every race test.
func Concurrently(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

func testReady(t *testing.T, st auth.Store) {
	if err := st.Ready(t.Context()); err != nil {
		t.Errorf("Ready() = %v, want nil", err)
	}
}
