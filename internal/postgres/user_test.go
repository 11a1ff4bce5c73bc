package postgres

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// Rows of one call count in order, as if imported one by one (which is
// what the SQLite store does).
func TestImportUsers_WithinOneCall(t *testing.T) {
	t.Parallel()
	st, _ := newTestStore(t)
	ctx := t.Context()
	at := time.Date(2024, time.May, 1, 12, 0, 0, 0, time.UTC)
	user := func(id int64, email string) auth.User {
		return auth.User{ID: id, Email: email, PasswordHash: "x", CreatedAt: at, UpdatedAt: at}
	}
	if _, err := st.ImportUsers(ctx, []auth.User{user(1, "taken@example.com")}); err != nil {
		t.Fatalf("ImportUsers(first) = %v", err)
	}
	in := []auth.User{
		user(10, "a@example.com"),     // new
		user(10, "a@example.com"),     // same id and email again
		user(10, "b@example.com"),     // id now taken by a@
		user(11, "a@example.com"),     // email now taken by id 10
		user(12, "taken@example.com"), // email taken before the call
		user(12, "c@example.com"),     // id 12 still free: the row above was skipped
		user(1, "taken@example.com"),  // present before the call
	}
	got, err := st.ImportUsers(ctx, in)
	if err != nil {
		t.Fatalf("ImportUsers = %v", err)
	}
	want := []auth.ImportStatus{auth.ImportInserted, auth.ImportUnchanged, auth.ImportConflict,
		auth.ImportConflict, auth.ImportConflict, auth.ImportInserted, auth.ImportUnchanged}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("ImportUsers statuses mismatch (-got +want):\n%s", d)
	}
	users, err := st.ListUsers(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	wantUsers := []auth.User{user(1, "taken@example.com"), user(10, "a@example.com"), user(12, "c@example.com")}
	if d := cmp.Diff(users, wantUsers); d != "" {
		t.Errorf("ListUsers after import mismatch (-got +want):\n%s", d)
	}
}

func TestImportUsers_NonPositiveID(t *testing.T) {
	t.Parallel()
	st, _ := newTestStore(t)
	in := []auth.User{{ID: 5, Email: "a@example.com"}, {ID: 0, Email: "b@example.com"}}
	if _, err := st.ImportUsers(t.Context(), in); err == nil {
		t.Fatal("ImportUsers(id 0) = nil error, want an error")
	}
	if users, err := st.ListUsers(t.Context(), 0, 10); err != nil || len(users) != 0 {
		t.Errorf("ListUsers after a failed import = %d users, %v; want none", len(users), err)
	}
}

// The sequence only ever moves forward: importing low ids after high ones
// does not make CreateUser reuse an id.
func TestImportUsers_SequenceNeverMovesBack(t *testing.T) {
	t.Parallel()
	st, _ := newTestStore(t)
	ctx := t.Context()
	if _, err := st.ImportUsers(ctx, importBatch(1_000_000, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ImportUsers(ctx, importBatch(5, 1)); err != nil {
		t.Fatal(err)
	}
	u := &auth.User{Email: "new@example.com", PasswordHash: "x"}
	if err := st.CreateUser(ctx, u, &auth.Session{ID: "s"}); err != nil {
		t.Fatalf("CreateUser = %v", err)
	}
	if u.ID <= 1_000_000 {
		t.Errorf("CreateUser after importing ids 1000000 and 5: ID = %d, want > 1000000", u.ID)
	}
}

// importBatch returns n users with ids from first on.
func importBatch(first int64, n int) []auth.User {
	at := time.Date(2024, time.May, 1, 12, 0, 0, 0, time.UTC)
	users := make([]auth.User, n)
	for i := range users {
		id := first + int64(i)
		users[i] = auth.User{ID: id, Email: fmt.Sprintf("user%d@example.com", id),
			PasswordHash: "$2a$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
			CreatedAt:    at, UpdatedAt: at}
		if i%10 == 0 {
			users[i].LockedAt = at
		}
	}
	return users
}

// BenchmarkImportUsers imports batches of 10,000 new users, one call
// (one transaction) per batch.
func BenchmarkImportUsers(b *testing.B) {
	const batch = 10_000
	st, _ := newTestStore(b)
	var next int64 = 1
	rows := 0
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		users := importBatch(next, batch)
		next += batch
		b.StartTimer()
		statuses, err := st.ImportUsers(b.Context(), users)
		if err != nil {
			b.Fatal(err)
		}
		if statuses[batch-1] != auth.ImportInserted {
			b.Fatalf("ImportUsers: last status %v, want inserted", statuses[batch-1])
		}
		rows += batch
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
