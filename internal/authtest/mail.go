package authtest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/auth"
)

func mailTests() []storeTest {
	return []storeTest{
		{"EnqueueMail_ClaimMail", testEnqueueClaimMail},
		{"EnqueueMail_Bound", testEnqueueMailBound},
		{"ClaimMail_Lease", testClaimMailLease},
		{"ClaimMail_Concurrent", testClaimMailConcurrent},
		{"AttachMailToken", testAttachMailToken},
		{"UseResetToken", testUseResetToken},
		{"UseEmailToken", testUseEmailToken},
		{"FinishMail_RetryMail", testFinishRetryMail},
		{"ListMails", testListMails},
		{"DeleteFinishedMails", testDeleteFinishedMails},
	}
}

func mustEnqueue(t *testing.T, st auth.Store, to string, due time.Time) *auth.Mail {
	t.Helper()
	m := &auth.Mail{Kind: auth.KindPasswordReset, To: to, CreatedAt: t0, NextAttemptAt: due}
	if err := st.EnqueueMail(t.Context(), m, 100); err != nil {
		t.Fatalf("EnqueueMail(%q) = %v", to, err)
	}
	return m
}

func testEnqueueClaimMail(t *testing.T, st auth.Store) {
	ctx := t.Context()
	if _, err := st.ClaimMail(ctx, t0, t0.Add(time.Minute)); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("ClaimMail on an empty outbox = %v, want ErrNotFound", err)
	}
	later := mustEnqueue(t, st, "later@example.com", t0.Add(time.Second))
	first := mustEnqueue(t, st, "first@example.com", t0)
	if first.ID == 0 || first.State != auth.MailPending {
		t.Fatalf("EnqueueMail set ID %d, State %q; want an ID and pending", first.ID, first.State)
	}
	lease := t0.Add(time.Minute)
	got, err := st.ClaimMail(ctx, t0, lease)
	if err != nil {
		t.Fatalf("ClaimMail = %v", err)
	}
	want := *first
	want.Attempts, want.NextAttemptAt = 1, lease
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("ClaimMail returned (-want +got):\n%s", diff)
	}
	if _, err := st.ClaimMail(ctx, t0, lease); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("ClaimMail before %q is due = %v, want ErrNotFound", later.To, err)
	}
	if n, err := st.CountPendingMails(ctx); err != nil || n != 2 {
		t.Errorf("CountPendingMails = %d, %v; want 2 (a claimed mail is still pending)", n, err)
	}
}

func testEnqueueMailBound(t *testing.T, st auth.Store) {
	ctx := t.Context()
	for i := range 3 {
		m := &auth.Mail{Kind: auth.KindPasswordChanged, To: fmt.Sprintf("u%d@example.com", i), CreatedAt: t0, NextAttemptAt: t0}
		err := st.EnqueueMail(ctx, m, 2)
		if i < 2 && err != nil {
			t.Fatalf("EnqueueMail #%d under the bound = %v", i, err)
		}
		if i == 2 && !errors.Is(err, auth.ErrOutboxFull) {
			t.Fatalf("EnqueueMail #%d over the bound = %v, want ErrOutboxFull", i, err)
		}
	}
	// A sent mail leaves the backlog and frees a place.
	m, err := st.ClaimMail(ctx, t0, t0.Add(time.Minute))
	if err != nil {
		t.Fatalf("ClaimMail = %v", err)
	}
	m.State, m.SentAt = auth.MailSent, t0
	if err := st.FinishMail(ctx, m); err != nil {
		t.Fatalf("FinishMail = %v", err)
	}
	mustEnqueue(t, st, "after@example.com", t0)
}

func testClaimMailLease(t *testing.T, st auth.Store) {
	ctx := t.Context()
	m := mustEnqueue(t, st, "a@example.com", t0)
	lease := t0.Add(time.Minute)
	if _, err := st.ClaimMail(ctx, t0, lease); err != nil {
		t.Fatalf("ClaimMail = %v", err)
	}
	// A worker that died keeps the mail until its lease ends, then another
	// takes it again.
	if _, err := st.ClaimMail(ctx, lease.Add(-time.Microsecond), lease.Add(time.Hour)); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("ClaimMail during the lease = %v, want ErrNotFound", err)
	}
	got, err := st.ClaimMail(ctx, lease, lease.Add(time.Minute))
	if err != nil || got.ID != m.ID || got.Attempts != 2 {
		t.Fatalf("ClaimMail after the lease = %+v, %v; want mail %d at attempt 2", got, err, m.ID)
	}
}

func testClaimMailConcurrent(t *testing.T, st auth.Store) {
	const mails, workers = 10, 8
	for i := range mails {
		mustEnqueue(t, st, fmt.Sprintf("u%d@example.com", i), t0)
	}
	var mu sync.Mutex
	claimed := map[int64]int{}
	Concurrently(workers, func(int) {
		for {
			m, err := st.ClaimMail(t.Context(), t0, t0.Add(time.Minute))
			if errors.Is(err, auth.ErrNotFound) {
				return
			}
			if err != nil {
				t.Errorf("ClaimMail = %v", err)
				return
			}
			mu.Lock()
			claimed[m.ID]++
			mu.Unlock()
		}
	})
	if len(claimed) != mails {
		t.Errorf("%d workers claimed %d distinct mails, want %d", workers, len(claimed), mails)
	}
	for id, n := range claimed {
		if n != 1 {
			t.Errorf("mail %d claimed %d times, want once", id, n)
		}
	}
}

func newToken(userID int64, id string) *auth.MailToken {
	return &auth.MailToken{ID: id, UserID: userID, Purpose: auth.KindPasswordReset, Email: "a@example.com", Stamp: "s1",
		CreatedAt: t0, ExpiresAt: t0.Add(30 * time.Minute)}
}

func testAttachMailToken(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u, _ := mustCreateUser(t, st, "a@example.com")
	m := mustEnqueue(t, st, u.Email, t0)
	old := newToken(u.ID, "old")
	if err := st.AttachMailToken(ctx, m.ID, old); err != nil {
		t.Fatalf("AttachMailToken(%q) = %v", old.ID, err)
	}
	got, err := st.MailToken(ctx, "old")
	if err != nil {
		t.Fatalf("MailToken(old) = %v", err)
	}
	if diff := cmp.Diff(old, got); diff != "" {
		t.Errorf("MailToken(old) (-want +got):\n%s", diff)
	}
	// A newer token of the same purpose kills the older one.
	m2 := mustEnqueue(t, st, u.Email, t0)
	if err := st.AttachMailToken(ctx, m2.ID, newToken(u.ID, "new")); err != nil {
		t.Fatalf("AttachMailToken(new) = %v", err)
	}
	if _, err := st.MailToken(ctx, "old"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("MailToken(old) after a newer token = %v, want ErrNotFound", err)
	}
	list, err := st.ListMails(ctx, 0, 10)
	if err != nil || len(list) != 2 || list[0].TokenID != "new" || list[1].TokenID != "old" || list[0].UserID != u.ID {
		t.Errorf("ListMails = %+v, %v; want the two mails naming their tokens and user", list, err)
	}
	if err := st.AttachMailToken(ctx, m.ID, newToken(u.ID+1000, "nouser")); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("AttachMailToken for an absent user = %v, want ErrNotFound", err)
	}
	// Deleting the user deletes its tokens.
	if _, err := st.DeleteUser(ctx, u.ID); err != nil {
		t.Fatalf("DeleteUser = %v", err)
	}
	if _, err := st.MailToken(ctx, "new"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("MailToken after DeleteUser = %v, want ErrNotFound", err)
	}
}

func testUseResetToken(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u := newUser("a@example.com")
	u.EmailUnconfirmed = true
	if err := st.CreateUser(ctx, u, newSession(0, t0)); err != nil {
		t.Fatal(err)
	}
	m := mustEnqueue(t, st, u.Email, t0)
	if err := st.AttachMailToken(ctx, m.ID, newToken(u.ID, "tok")); err != nil {
		t.Fatalf("AttachMailToken = %v", err)
	}
	at := t0.Add(time.Minute)
	var wins, losses int
	var mu sync.Mutex
	Concurrently(4, func(i int) {
		err := st.UseResetToken(ctx, "tok", fmt.Sprintf("hash%d", i), at)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			wins++
		case errors.Is(err, auth.ErrNotFound):
			losses++
		default:
			t.Errorf("UseResetToken = %v", err)
		}
	})
	if wins != 1 || losses != 3 {
		t.Errorf("4 concurrent UseResetToken: %d succeeded, %d ErrNotFound; want 1 and 3", wins, losses)
	}
	got, err := st.UserByID(ctx, u.ID)
	if err != nil || got.PasswordHash[:4] != "hash" || !got.UpdatedAt.Equal(at) || got.EmailUnconfirmed {
		t.Errorf("UserByID after the reset = %+v, %v; want a new hash updated at %v, the address confirmed", got, err, at)
	}
}

func testUseEmailToken(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u := newUser("a@example.com")
	u.EmailUnconfirmed = true
	if err := st.CreateUser(ctx, u, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := st.UserByEmail(ctx, u.Email); err != nil || !got.EmailUnconfirmed {
		t.Fatalf("UserByEmail of an unconfirmed user = %+v, %v; want EmailUnconfirmed", got, err)
	}
	mustCreateUser(t, st, "taken@example.com")
	attach := func(id, email string) {
		t.Helper()
		tok := newToken(u.ID, id)
		tok.Purpose, tok.Email = auth.KindConfirmEmail, email
		if err := st.AttachMailToken(ctx, mustEnqueue(t, st, email, t0).ID, tok); err != nil {
			t.Fatalf("AttachMailToken(%s) = %v", id, err)
		}
	}
	attach("taken", "taken@example.com")
	if err := st.UseEmailToken(ctx, "taken", t0); !errors.Is(err, auth.ErrEmailTaken) {
		t.Errorf("UseEmailToken to an address taken meanwhile = %v, want ErrEmailTaken", err)
	}
	if _, err := st.MailToken(ctx, "taken"); err != nil {
		t.Errorf("MailToken after a refused UseEmailToken = %v; want the token kept (nothing changed)", err)
	}
	attach("new", "new@example.com")
	at := t0.Add(time.Minute)
	if err := st.UseEmailToken(ctx, "new", at); err != nil {
		t.Fatalf("UseEmailToken = %v", err)
	}
	got, err := st.UserByID(ctx, u.ID)
	if err != nil || got.Email != "new@example.com" || got.EmailUnconfirmed || !got.UpdatedAt.Equal(at) {
		t.Errorf("UserByID after UseEmailToken = %+v, %v; want new@example.com, confirmed, updated at %v", got, err, at)
	}
	checkNotFound(t, "UseEmailToken(used)", st.UseEmailToken(ctx, "new", at))
	// A reset token is not a confirmation token.
	attachReset := newToken(u.ID, "reset")
	if err := st.AttachMailToken(ctx, mustEnqueue(t, st, "x@example.com", t0).ID, attachReset); err != nil {
		t.Fatal(err)
	}
	checkNotFound(t, "UseEmailToken(a reset token)", st.UseEmailToken(ctx, "reset", at))
}

func testFinishRetryMail(t *testing.T, st auth.Store) {
	ctx := t.Context()
	m := mustEnqueue(t, st, "a@example.com", t0)
	claimed, err := st.ClaimMail(ctx, t0, t0.Add(time.Minute))
	if err != nil {
		t.Fatalf("ClaimMail = %v", err)
	}
	claimed.State, claimed.LastError, claimed.NextAttemptAt = auth.MailFailed, "554 no", t0.Add(time.Second)
	if err := st.FinishMail(ctx, claimed); err != nil {
		t.Fatalf("FinishMail = %v", err)
	}
	if _, err := st.ClaimMail(ctx, t0.Add(time.Hour), t0.Add(2*time.Hour)); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("ClaimMail of a failed mail = %v, want ErrNotFound", err)
	}
	if err := st.RetryMail(ctx, m.ID, t0.Add(time.Hour)); err != nil {
		t.Fatalf("RetryMail = %v", err)
	}
	got, err := st.ClaimMail(ctx, t0.Add(time.Hour), t0.Add(2*time.Hour))
	if err != nil || got.ID != m.ID || got.Attempts != 1 || got.LastError != "554 no" {
		t.Errorf("ClaimMail after RetryMail = %+v, %v; want mail %d at attempt 1 keeping its last error", got, err, m.ID)
	}
	checkNotFound(t, "RetryMail(absent)", st.RetryMail(ctx, m.ID+1000, t0))
	checkNotFound(t, "FinishMail(absent)", st.FinishMail(ctx, &auth.Mail{ID: m.ID + 1000, State: auth.MailSent}))
}

func testListMails(t *testing.T, st auth.Store) {
	ctx := t.Context()
	var ids []int64
	for i := range 5 {
		ids = append(ids, mustEnqueue(t, st, fmt.Sprintf("u%d@example.com", i), t0).ID)
	}
	page, err := st.ListMails(ctx, 0, 2)
	if err != nil || len(page) != 2 || page[0].ID != ids[4] || page[1].ID != ids[3] {
		t.Fatalf("ListMails(0, 2) = %+v, %v; want mails %d, %d", page, err, ids[4], ids[3])
	}
	page, err = st.ListMails(ctx, ids[3], 10)
	if err != nil || len(page) != 3 || page[2].ID != ids[0] {
		t.Errorf("ListMails(%d, 10) = %+v, %v; want the 3 older mails", ids[3], page, err)
	}
	if !page[0].CreatedAt.Equal(t0) || page[0].CreatedAt.Location() != time.UTC {
		t.Errorf("ListMails CreatedAt = %v, want %v in UTC", page[0].CreatedAt, t0)
	}
	if page, err := st.ListMails(ctx, 0, 0); err != nil || len(page) != 0 {
		t.Errorf("ListMails(0, 0) = %v, %v; want none", page, err)
	}
}

func testDeleteFinishedMails(t *testing.T, st auth.Store) {
	ctx := t.Context()
	pending := mustEnqueue(t, st, "pending@example.com", t0)
	finished := map[auth.MailState]*auth.Mail{}
	for _, state := range []auth.MailState{auth.MailSent, auth.MailDropped, auth.MailFailed} {
		m := mustEnqueue(t, st, string(state)+"@example.com", t0)
		m.State = state
		if err := st.FinishMail(ctx, m); err != nil {
			t.Fatalf("FinishMail(%s) = %v", state, err)
		}
		finished[state] = m
	}
	recent := &auth.Mail{Kind: auth.KindPasswordReset, To: "recent@example.com", CreatedAt: t0.Add(time.Hour), NextAttemptAt: t0.Add(time.Hour)}
	if err := st.EnqueueMail(ctx, recent, 100); err != nil {
		t.Fatalf("EnqueueMail(recent) = %v", err)
	}
	recent.State = auth.MailSent
	if err := st.FinishMail(ctx, recent); err != nil {
		t.Fatalf("FinishMail(recent) = %v", err)
	}

	if n, err := st.DeleteFinishedMails(ctx, t0.Add(time.Minute), 2); err != nil || n != 2 {
		t.Fatalf("DeleteFinishedMails(limit 2) = %d, %v; want 2", n, err)
	}
	if n, err := st.DeleteFinishedMails(ctx, t0.Add(time.Minute), 10); err != nil || n != 1 {
		t.Fatalf("DeleteFinishedMails(the rest) = %d, %v; want the third finished mail", n, err)
	}
	left, err := st.ListMails(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, m := range left {
		ids = append(ids, m.ID)
	}
	if want := []int64{recent.ID, pending.ID}; !cmp.Equal(ids, want) {
		t.Errorf("mails left = %v, want %v: the pending one and the one finished after the cut", ids, want)
	}
}
