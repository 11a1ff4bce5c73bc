package authtest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/auth"
)

func testCreateUser(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u, s := newUser("ada@example.com"), newSession(0, t0)
	if err := st.CreateUser(ctx, u, s); err != nil {
		t.Fatalf("CreateUser(%q) = %v", u.Email, err)
	}
	if u.ID <= 0 {
		t.Fatalf("CreateUser(%q): u.ID = %d, want > 0", u.Email, u.ID)
	}
	if s.UserID != u.ID {
		t.Errorf("CreateUser(%q): s.UserID = %d, want the new user id %d", u.Email, s.UserID, u.ID)
	}

	got, err := st.UserByID(ctx, u.ID)
	if err != nil {
		t.Fatalf("UserByID(%d) = %v", u.ID, err)
	}
	if d := cmp.Diff(got, u); d != "" {
		t.Errorf("UserByID(%d) mismatch (-got +want):\n%s", u.ID, d)
	}
	checkUserUTC(t, fmt.Sprintf("UserByID(%d)", u.ID), got)
	if d := cmp.Diff(mustSession(t, st, s.ID), s); d != "" {
		t.Errorf("Session(%q) of the registration mismatch (-got +want):\n%s", s.ID, d)
	}

	u2, _ := mustCreateUser(t, st, "grace@example.com")
	if u2.ID == u.ID {
		t.Errorf("CreateUser(%q): ID = %d, the same as %q's", u2.Email, u2.ID, u.Email)
	}
}

func testCreateUserEmailTaken(t *testing.T, st auth.Store) {
	ctx := t.Context()
	mustCreateUser(t, st, "ada@example.com")

	u, s := newUser("ada@example.com"), newSession(0, t0)
	err := st.CreateUser(ctx, u, s)
	if !errors.Is(err, auth.ErrEmailTaken) {
		t.Fatalf("CreateUser(%q) a second time = %v, want ErrEmailTaken", u.Email, err)
	}
	_, err = st.Session(ctx, s.ID)
	checkNotFound(t, "Session of the rejected registration", err)
	users, err := st.ListUsers(ctx, 0, 10)
	if err != nil {
		t.Fatalf("ListUsers(0, 10) = %v", err)
	}
	if len(users) != 1 {
		t.Errorf("ListUsers(0, 10) after a rejected registration: %d users, want 1", len(users))
	}
}

// An administrator creates an account without a session.
func testCreateUserNoSession(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u := newUser("ada@example.com")
	if err := st.CreateUser(ctx, u, nil); err != nil {
		t.Fatalf("CreateUser(%q, nil session) = %v", u.Email, err)
	}
	if u.ID <= 0 {
		t.Fatalf("CreateUser(%q, nil session): u.ID = %d, want > 0", u.Email, u.ID)
	}
	got, err := st.UserByID(ctx, u.ID)
	if err != nil {
		t.Fatalf("UserByID(%d) = %v", u.ID, err)
	}
	if d := cmp.Diff(got, u); d != "" {
		t.Errorf("UserByID(%d) mismatch (-got +want):\n%s", u.ID, d)
	}
	assertLiveSessions(t, st, u.ID, t0)
	if err := st.CreateUser(ctx, newUser("ada@example.com"), nil); !errors.Is(err, auth.ErrEmailTaken) {
		t.Errorf("CreateUser(%q, nil session) a second time = %v, want ErrEmailTaken", u.Email, err)
	}
}

// Registration creates the user and its session or neither: a session that
// cannot be stored (here, its id is taken) leaves no user behind.
func testCreateUserAtomic(t *testing.T, st auth.Store) {
	ctx := t.Context()
	_, s := mustCreateUser(t, st, "ada@example.com")

	u := newUser("grace@example.com")
	dup := newSession(0, t0)
	dup.ID = s.ID
	if err := st.CreateUser(ctx, u, dup); err == nil {
		t.Fatalf("CreateUser(%q) with a taken session id = nil error, want one", u.Email)
	}
	_, err := st.UserByEmail(ctx, u.Email)
	checkNotFound(t, "UserByEmail of a registration whose session failed", err)
}

func testCreateUserConcurrentSameEmail(t *testing.T, st auth.Store) {
	ctx := t.Context()
	const n = 50
	sessions := make([]*auth.Session, n)
	errs := make([]error, n)
	Concurrently(n, func(i int) {
		sessions[i] = newSession(0, t0)
		errs[i] = st.CreateUser(ctx, newUser("race@example.com"), sessions[i])
	})
	var ok, taken int
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, auth.ErrEmailTaken):
			taken++
		default:
			t.Errorf("CreateUser(race@example.com) in goroutine %d = %v, want nil or ErrEmailTaken", i, err)
		}
	}
	if ok != 1 || taken != n-1 {
		t.Errorf("%d concurrent CreateUser(race@example.com): %d succeeded and %d got ErrEmailTaken, want 1 and %d",
			n, ok, taken, n-1)
	}
	var stored int
	for _, s := range sessions {
		if _, err := st.Session(ctx, s.ID); err == nil {
			stored++
		}
	}
	if stored != ok {
		t.Errorf("%d sessions stored after %d successful registrations, want as many", stored, ok)
	}
}

func testUserByEmail(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u, _ := mustCreateUser(t, st, "ada@example.com")
	mustCreateUser(t, st, "grace@example.com")

	got, err := st.UserByEmail(ctx, "ada@example.com")
	if err != nil {
		t.Fatalf("UserByEmail(ada@example.com) = %v", err)
	}
	if d := cmp.Diff(got, u); d != "" {
		t.Errorf("UserByEmail(ada@example.com) mismatch (-got +want):\n%s", d)
	}
	checkUserUTC(t, "UserByEmail(ada@example.com)", got)
	_, err = st.UserByEmail(ctx, "nobody@example.com")
	checkNotFound(t, "UserByEmail(nobody@example.com)", err)
}

func testUserByID(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u, _ := mustCreateUser(t, st, "ada@example.com")

	got, err := st.UserByID(ctx, u.ID)
	if err != nil {
		t.Fatalf("UserByID(%d) = %v", u.ID, err)
	}
	if d := cmp.Diff(got, u); d != "" {
		t.Errorf("UserByID(%d) mismatch (-got +want):\n%s", u.ID, d)
	}
	_, err = st.UserByID(ctx, u.ID+1000)
	checkNotFound(t, fmt.Sprintf("UserByID(%d)", u.ID+1000), err)
}

func testSetPasswordHash(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u, _ := mustCreateUser(t, st, "ada@example.com")
	at := t0.Add(time.Hour)
	const hash = "$argon2id$v=19$m=19456,t=2,p=1$bmV3c2FsdA$bmV3aGFzaG5ld2hhc2g"

	if err := st.SetPasswordHash(ctx, u.ID, hash, at); err != nil {
		t.Fatalf("SetPasswordHash(%d) = %v", u.ID, err)
	}
	want := *u
	want.PasswordHash = hash
	want.UpdatedAt = at
	got, err := st.UserByID(ctx, u.ID)
	if err != nil {
		t.Fatalf("UserByID(%d) = %v", u.ID, err)
	}
	if d := cmp.Diff(got, &want); d != "" {
		t.Errorf("UserByID(%d) after SetPasswordHash mismatch (-got +want):\n%s", u.ID, d)
	}
	err = st.SetPasswordHash(ctx, u.ID+1000, hash, at)
	checkNotFound(t, fmt.Sprintf("SetPasswordHash(%d)", u.ID+1000), err)
}

func testSetLocked(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u, _ := mustCreateUser(t, st, "ada@example.com")
	at := t0.Add(time.Hour)

	if err := st.SetLocked(ctx, u.ID, at); err != nil {
		t.Fatalf("SetLocked(%d, %v) = %v", u.ID, at, err)
	}
	got, err := st.UserByID(ctx, u.ID)
	if err != nil {
		t.Fatalf("UserByID(%d) = %v", u.ID, err)
	}
	if !got.Locked() || !got.LockedAt.Equal(at) {
		t.Errorf("UserByID(%d) after SetLocked: LockedAt = %v, want %v", u.ID, got.LockedAt, at)
	}
	checkUserUTC(t, fmt.Sprintf("UserByID(%d)", u.ID), got)

	if err := st.SetLocked(ctx, u.ID, time.Time{}); err != nil {
		t.Fatalf("SetLocked(%d, zero) = %v", u.ID, err)
	}
	got, err = st.UserByID(ctx, u.ID)
	if err != nil {
		t.Fatalf("UserByID(%d) = %v", u.ID, err)
	}
	if got.Locked() {
		t.Errorf("UserByID(%d) after unlocking: LockedAt = %v, want zero", u.ID, got.LockedAt)
	}
	if got.Email != u.Email || got.PasswordHash != u.PasswordHash || !got.CreatedAt.Equal(u.CreatedAt) {
		t.Errorf("UserByID(%d) after lock and unlock = %+v, want the other fields of %+v unchanged", u.ID, got, u)
	}
}

func testDeleteUser(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u, first := mustCreateUser(t, st, "ada@example.com")
	second := mustCreateSession(t, st, newSession(u.ID, t0.Add(time.Minute)))
	revoked := mustCreateSession(t, st, newSession(u.ID, t0.Add(2*time.Minute)))
	if err := st.RevokeSession(ctx, revoked.ID, t0.Add(3*time.Minute)); err != nil {
		t.Fatalf("RevokeSession(%q) = %v", revoked.ID, err)
	}
	other, otherSession := mustCreateUser(t, st, "grace@example.com")

	ids, err := st.DeleteUser(ctx, u.ID)
	if err != nil {
		t.Fatalf("DeleteUser(%d) = %v", u.ID, err)
	}
	if d := cmp.Diff(sorted(ids), sorted([]string{first.ID, second.ID})); d != "" {
		t.Errorf("DeleteUser(%d) live session ids mismatch (-got +want):\n%s", u.ID, d)
	}
	_, err = st.UserByID(ctx, u.ID)
	checkNotFound(t, fmt.Sprintf("UserByID(%d) after DeleteUser", u.ID), err)
	for _, id := range []string{first.ID, second.ID, revoked.ID} {
		_, err := st.Session(ctx, id)
		checkNotFound(t, fmt.Sprintf("Session(%q) after DeleteUser", id), err)
	}
	if _, err := st.UserByID(ctx, other.ID); err != nil {
		t.Errorf("UserByID(%d) of another user after DeleteUser(%d) = %v", other.ID, u.ID, err)
	}
	mustSession(t, st, otherSession.ID)

	// The email is free again.
	mustCreateUser(t, st, "ada@example.com")
}

func testListUsers(t *testing.T, st auth.Store) {
	ctx := t.Context()
	var want []auth.User
	for i := range 5 {
		u, _ := mustCreateUser(t, st, fmt.Sprintf("user%d@example.com", i))
		want = append(want, *u)
	}

	var got []auth.User
	after := int64(0)
	for page := 0; ; page++ {
		users, err := st.ListUsers(ctx, after, 2)
		if err != nil {
			t.Fatalf("ListUsers(%d, 2) = %v", after, err)
		}
		if len(users) > 2 {
			t.Fatalf("ListUsers(%d, 2) returned %d users", after, len(users))
		}
		if len(users) == 0 || page > 5 {
			break
		}
		got = append(got, users...)
		after = users[len(users)-1].ID
	}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("ListUsers in pages of 2 mismatch (-got +want):\n%s", d)
	}
	users, err := st.ListUsers(ctx, want[2].ID, 10)
	if err != nil {
		t.Fatalf("ListUsers(%d, 10) = %v", want[2].ID, err)
	}
	if d := cmp.Diff(users, want[3:]); d != "" {
		t.Errorf("ListUsers(%d, 10) mismatch (-got +want):\n%s", want[2].ID, d)
	}
}

// importedUsers returns rows as the Rails import produces them: explicit
// ids, bcrypt digests, one of them locked.
func importedUsers() []auth.User {
	return []auth.User{
		{ID: 100, Email: "ada@example.com", PasswordHash: "$2a$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
			CreatedAt: t0.Add(-48 * time.Hour), UpdatedAt: t0.Add(-24 * time.Hour)},
		{ID: 200, Email: "grace@example.com", PasswordHash: "$2a$12$abcdefghijklmnopqrstuu5s2v8.isx1PYmrq6yT0Yc0Tn6JrW9U6",
			CreatedAt: t0.Add(-47 * time.Hour), UpdatedAt: t0.Add(-47 * time.Hour), LockedAt: t0.Add(-time.Hour)},
		{ID: 300, Email: "edsger@example.com", PasswordHash: "$2a$12$zyxwvutsrqponmlkjihgfeWq1Cz6bI3xvJYpPcR1bqK2Hm4Pp7j5O",
			CreatedAt: t0.Add(-46 * time.Hour), UpdatedAt: t0.Add(-46 * time.Hour)},
	}
}

func testImportUsers(t *testing.T, st auth.Store) {
	ctx := t.Context()
	in := importedUsers()
	statuses, err := st.ImportUsers(ctx, in)
	if err != nil {
		t.Fatalf("ImportUsers(%d rows) = %v", len(in), err)
	}
	want := []auth.ImportStatus{auth.ImportInserted, auth.ImportInserted, auth.ImportInserted}
	if d := cmp.Diff(statuses, want); d != "" {
		t.Errorf("ImportUsers statuses mismatch (-got +want):\n%s", d)
	}
	for _, u := range in {
		got, err := st.UserByID(ctx, u.ID)
		if err != nil {
			t.Fatalf("UserByID(%d) after import = %v", u.ID, err)
		}
		if d := cmp.Diff(got, &u); d != "" {
			t.Errorf("UserByID(%d) after import mismatch (-got +want):\n%s", u.ID, d)
		}
		checkUserUTC(t, fmt.Sprintf("UserByID(%d)", u.ID), got)
	}
}

func testImportUsersIdempotent(t *testing.T, st auth.Store) {
	ctx := t.Context()
	if _, err := st.ImportUsers(ctx, importedUsers()); err != nil {
		t.Fatalf("ImportUsers = %v", err)
	}
	statuses, err := st.ImportUsers(ctx, importedUsers())
	if err != nil {
		t.Fatalf("ImportUsers a second time = %v", err)
	}
	want := []auth.ImportStatus{auth.ImportUnchanged, auth.ImportUnchanged, auth.ImportUnchanged}
	if d := cmp.Diff(statuses, want); d != "" {
		t.Errorf("ImportUsers a second time: statuses mismatch (-got +want):\n%s", d)
	}
	users, err := st.ListUsers(ctx, 0, 10)
	if err != nil {
		t.Fatalf("ListUsers(0, 10) = %v", err)
	}
	if d := cmp.Diff(users, importedUsers()); d != "" {
		t.Errorf("ListUsers after importing twice mismatch (-got +want):\n%s", d)
	}
}

func testImportUsersConflict(t *testing.T, st auth.Store) {
	ctx := t.Context()
	existing := importedUsers()[:2] // ids 100 and 200
	if _, err := st.ImportUsers(ctx, existing); err != nil {
		t.Fatalf("ImportUsers = %v", err)
	}
	batch := []auth.User{
		{ID: 100, Email: "someone-else@example.com", PasswordHash: "x", CreatedAt: t0, UpdatedAt: t0},
		{ID: 400, Email: existing[1].Email, PasswordHash: "x", CreatedAt: t0, UpdatedAt: t0},
		{ID: 500, Email: "new@example.com", PasswordHash: "x", CreatedAt: t0, UpdatedAt: t0},
		existing[1],
	}
	statuses, err := st.ImportUsers(ctx, batch)
	if err != nil {
		t.Fatalf("ImportUsers(batch with conflicts) = %v", err)
	}
	want := []auth.ImportStatus{auth.ImportConflict, auth.ImportConflict, auth.ImportInserted, auth.ImportUnchanged}
	if d := cmp.Diff(statuses, want); d != "" {
		t.Errorf("ImportUsers(id taken, email taken, new, same) statuses mismatch (-got +want):\n%s", d)
	}
	users, err := st.ListUsers(ctx, 0, 10)
	if err != nil {
		t.Fatalf("ListUsers(0, 10) = %v", err)
	}
	if d := cmp.Diff(users, slices.Concat(existing, batch[2:3])); d != "" {
		t.Errorf("ListUsers after a conflicting import mismatch (-got +want):\n%s", d)
	}
}

func testImportUsersThenCreateUser(t *testing.T, st auth.Store) {
	ctx := t.Context()
	before, _ := mustCreateUser(t, st, "before@example.com")
	in := []auth.User{{ID: before.ID + 1000, Email: "imported@example.com", PasswordHash: "x", CreatedAt: t0, UpdatedAt: t0}}
	if _, err := st.ImportUsers(ctx, in); err != nil {
		t.Fatalf("ImportUsers(id %d) = %v", in[0].ID, err)
	}
	after, _ := mustCreateUser(t, st, "after@example.com")
	if after.ID <= in[0].ID {
		t.Errorf("CreateUser after importing id %d: ID = %d, want greater", in[0].ID, after.ID)
	}
}

func testImportUsersEmpty(t *testing.T, st auth.Store) {
	statuses, err := st.ImportUsers(t.Context(), nil)
	if err != nil || len(statuses) != 0 {
		t.Errorf("ImportUsers(nil) = %v, %v, want no statuses and nil", statuses, err)
	}
}
