package authtest

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/passkey"
)

// PasskeyStore is a backend's Store with the passkey tables.
type PasskeyStore interface {
	auth.Store
	passkey.Store
}

// RunPasskeyStoreTests runs the passkey.Store contract against a backend;
// newStore is as for RunStoreTests.
func RunPasskeyStoreTests(t *testing.T, newStore func(t *testing.T) PasskeyStore) {
	t.Helper()
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, st PasskeyStore)
	}{
		{"Handle", testPasskeyHandle},
		{"RoundTrip", testPasskeyRoundTrip},
		{"RenameDelete", testPasskeyRenameDelete},
		{"UseCounter", testPasskeyUseCounter},
		{"UseConcurrent", testPasskeyUseConcurrent},
		{"Ceremony", testPasskeyCeremony},
		{"CeremonyConcurrentTake", testPasskeyCeremonyConcurrentTake},
		{"DeleteUserCascades", testPasskeyDeleteUser},
		{"SecondFactorHint", testSecondFactorHintPasskey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newStore(t))
		})
	}
}

func testPasskeyHandle(t *testing.T, st PasskeyStore) {
	ctx := t.Context()
	u, _ := mustCreateUser(t, st, "handle@example.com")
	first := []byte("first handle, 32 bytes long.....")
	_, err := st.FindPasskeyHandle(ctx, u.ID)
	checkNotFound(t, "FindPasskeyHandle(before any)", err)
	h, err := st.PasskeyHandle(ctx, u.ID, first)
	if err != nil || string(h) != string(first) {
		t.Fatalf("PasskeyHandle(new user) = %q, %v; want the fresh handle", h, err)
	}
	if h, err := st.PasskeyHandle(ctx, u.ID, []byte("second")); err != nil || string(h) != string(first) {
		t.Errorf("PasskeyHandle(again) = %q, %v; want the first handle kept", h, err)
	}
	if h, err := st.FindPasskeyHandle(ctx, u.ID); err != nil || string(h) != string(first) {
		t.Errorf("FindPasskeyHandle = %q, %v; want the first handle", h, err)
	}
	if id, err := st.PasskeyUser(ctx, first); err != nil || id != u.ID {
		t.Errorf("PasskeyUser(handle) = %d, %v; want %d", id, err, u.ID)
	}
	_, err = st.PasskeyUser(ctx, []byte("second"))
	checkNotFound(t, "PasskeyUser(unknown handle)", err)
	_, err = st.PasskeyHandle(ctx, u.ID+1000, []byte("orphan"))
	checkNotFound(t, "PasskeyHandle(unknown user)", err)
}

func newPasskey(userID int64, id string, created time.Time) *passkey.Credential {
	return &passkey.Credential{
		ID: []byte(id), UserID: userID, PublicKey: []byte("cose key of " + id), SignCount: 5,
		AAGUID: make([]byte, 16), Transports: []string{"internal", "hybrid"}, BackupEligible: true,
		Name: "Laptop " + id, CreatedAt: created,
	}
}

func mustAddPasskey(t *testing.T, st PasskeyStore, c *passkey.Credential) {
	t.Helper()
	if err := st.AddPasskey(t.Context(), c); err != nil {
		t.Fatalf("AddPasskey(%q) = %v", c.ID, err)
	}
}

func testPasskeyRoundTrip(t *testing.T, st PasskeyStore) {
	ctx := t.Context()
	u, _ := mustCreateUser(t, st, "owner@example.com")
	other, _ := mustCreateUser(t, st, "other@example.com")
	older, newer := newPasskey(u.ID, "k1", t0), newPasskey(u.ID, "k2", t0.Add(time.Minute))
	newer.Transports, newer.AAGUID, newer.BackupEligible, newer.SignCount = nil, nil, false, 0
	mustAddPasskey(t, st, newer)
	mustAddPasskey(t, st, older)
	got, err := st.Passkeys(ctx, u.ID)
	if err != nil {
		t.Fatalf("Passkeys() = %v", err)
	}
	// An absent AAGUID may come back nil or empty.
	if diff := cmp.Diff([]passkey.Credential{*older, *newer}, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Passkeys() differs, want oldest first (-want +got):\n%s", diff)
	}
	if got, err := st.Passkeys(ctx, other.ID); err != nil || len(got) != 0 {
		t.Errorf("Passkeys(other user) = %v, %v; want none", got, err)
	}
	if err := st.AddPasskey(ctx, newPasskey(other.ID, "k1", t0)); !errors.Is(err, passkey.ErrCredentialTaken) {
		t.Errorf("AddPasskey(id of another user's passkey) = %v, want ErrCredentialTaken", err)
	}
	checkNotFound(t, "AddPasskey(unknown user)", st.AddPasskey(ctx, newPasskey(other.ID+1000, "k3", t0)))
}

func testPasskeyRenameDelete(t *testing.T, st PasskeyStore) {
	ctx := t.Context()
	u, _ := mustCreateUser(t, st, "owner@example.com")
	other, _ := mustCreateUser(t, st, "other@example.com")
	mustAddPasskey(t, st, newPasskey(u.ID, "k1", t0))
	mustAddPasskey(t, st, newPasskey(u.ID, "k2", t0))
	checkNotFound(t, "RenamePasskey(another user's)", st.RenamePasskey(ctx, other.ID, []byte("k1"), "mine"))
	checkNotFound(t, "DeletePasskey(another user's)", st.DeletePasskey(ctx, other.ID, []byte("k1")))
	if err := st.RenamePasskey(ctx, u.ID, []byte("k1"), "Phone"); err != nil {
		t.Errorf("RenamePasskey(own) = %v", err)
	}
	if err := st.DeletePasskey(ctx, u.ID, []byte("k2")); err != nil {
		t.Errorf("DeletePasskey(own) = %v", err)
	}
	checkNotFound(t, "DeletePasskey(deleted)", st.DeletePasskey(ctx, u.ID, []byte("k2")))
	got, err := st.Passkeys(ctx, u.ID)
	if err != nil || len(got) != 1 || got[0].Name != "Phone" {
		t.Errorf("Passkeys() after rename and delete = %v, %v; want k1 named Phone", got, err)
	}
	mustAddPasskey(t, st, newPasskey(u.ID, "k3", t0))
	if n, err := st.DeletePasskeys(ctx, u.ID); err != nil || n != 2 {
		t.Errorf("DeletePasskeys() = %d, %v; want 2", n, err)
	}
	if n, err := st.DeletePasskeys(ctx, u.ID); err != nil || n != 0 {
		t.Errorf("DeletePasskeys(again) = %d, %v; want 0", n, err)
	}
}

func testPasskeyUseCounter(t *testing.T, st PasskeyStore) {
	ctx := t.Context()
	u, _ := mustCreateUser(t, st, "owner@example.com")
	counted, zero := newPasskey(u.ID, "counted", t0), newPasskey(u.ID, "zero", t0)
	zero.SignCount = 0
	mustAddPasskey(t, st, counted)
	mustAddPasskey(t, st, zero)
	used := t0.Add(time.Hour)
	for _, tc := range []struct {
		id    string
		count uint32
		want  error
	}{
		{"counted", 5, passkey.ErrCounterRegressed},
		{"counted", 4, passkey.ErrCounterRegressed},
		{"counted", 0, passkey.ErrCounterRegressed},
		{"counted", 6, nil},
		{"counted", 6, passkey.ErrCounterRegressed},
		{"zero", 0, nil},
		{"zero", 0, nil},
		{"zero", 3, nil},
		{"zero", 0, passkey.ErrCounterRegressed},
		{"gone", 9, auth.ErrNotFound},
	} {
		if err := st.UsePasskey(ctx, []byte(tc.id), tc.count, true, used); !errors.Is(err, tc.want) && (err != nil || tc.want != nil) {
			t.Errorf("UsePasskey(%s, %d) = %v, want %v", tc.id, tc.count, err, tc.want)
		}
	}
	got, err := st.Passkeys(ctx, u.ID)
	if err != nil || len(got) != 2 {
		t.Fatalf("Passkeys() = %v, %v", got, err)
	}
	if got[0].SignCount != 6 || !got[0].BackedUp || !got[0].LastUsedAt.Equal(used) || got[1].SignCount != 3 {
		t.Errorf("Passkeys() after uses = %+v; want counters 6 and 3, backed up, last used %v", got, used)
	}
}

// Of concurrent assertions carrying the same counter, one is recorded:
// the rest look like a clone and are refused.
func testPasskeyUseConcurrent(t *testing.T, st PasskeyStore) {
	u, _ := mustCreateUser(t, st, "owner@example.com")
	mustAddPasskey(t, st, newPasskey(u.ID, "k1", t0))
	var ok, regressed atomic.Int32
	Concurrently(8, func(int) {
		switch err := st.UsePasskey(t.Context(), []byte("k1"), 7, false, t0); {
		case err == nil:
			ok.Add(1)
		case errors.Is(err, passkey.ErrCounterRegressed):
			regressed.Add(1)
		default:
			t.Errorf("UsePasskey(concurrent) = %v", err)
		}
	})
	if ok.Load() != 1 || regressed.Load() != 7 {
		t.Errorf("8 concurrent UsePasskey(count 7): %d recorded, %d regressed; want 1 and 7", ok.Load(), regressed.Load())
	}
}

func newCeremony(key string, userID int64, expires time.Time) *passkey.Ceremony {
	return &passkey.Ceremony{Key: key, Kind: passkey.KindStepUp, SessionID: "sid-" + key, UserID: userID,
		Name: "name", Data: []byte(`{"challenge":"` + key + `"}`), ExpiresAt: expires}
}

func testPasskeyCeremony(t *testing.T, st PasskeyStore) {
	ctx := t.Context()
	u, _ := mustCreateUser(t, st, "owner@example.com")
	bound := newCeremony("bound", u.ID, t0.Add(5*time.Minute))
	unbound := newCeremony("unbound", 0, t0.Add(5*time.Minute))
	unbound.Kind, unbound.SessionID = passkey.KindSignIn, ""
	for _, c := range []*passkey.Ceremony{bound, unbound} {
		if err := st.SaveCeremony(ctx, c, t0); err != nil {
			t.Fatalf("SaveCeremony(%s) = %v", c.Key, err)
		}
		got, err := st.TakeCeremony(ctx, c.Key)
		if err != nil {
			t.Fatalf("TakeCeremony(%s) = %v", c.Key, err)
		}
		if diff := cmp.Diff(c, got); diff != "" {
			t.Errorf("TakeCeremony(%s) differs (-want +got):\n%s", c.Key, diff)
		}
		_, err = st.TakeCeremony(ctx, c.Key)
		checkNotFound(t, "TakeCeremony(taken)", err)
	}
	// Saving prunes what expired before its now, and only that.
	expired, live := newCeremony("expired", u.ID, t0.Add(time.Minute)), newCeremony("live", u.ID, t0.Add(time.Hour))
	for _, c := range []*passkey.Ceremony{expired, live, newCeremony("next", u.ID, t0.Add(time.Hour))} {
		if err := st.SaveCeremony(ctx, c, t0.Add(2*time.Minute)); err != nil {
			t.Fatalf("SaveCeremony(%s) = %v", c.Key, err)
		}
	}
	_, err := st.TakeCeremony(ctx, "expired")
	checkNotFound(t, "TakeCeremony(pruned)", err)
	if _, err := st.TakeCeremony(ctx, "live"); err != nil {
		t.Errorf("TakeCeremony(live after a prune) = %v", err)
	}
	checkNotFound(t, "SaveCeremony(unknown user)", st.SaveCeremony(ctx, newCeremony("orphan", u.ID+1000, t0), t0))

	// A session's new begin supersedes its earlier ceremony of that kind
	// only; ceremonies of no session never supersede one another.
	first, again := newCeremony("first", u.ID, t0.Add(time.Hour)), newCeremony("again", u.ID, t0.Add(time.Hour))
	other := newCeremony("other-kind", u.ID, t0.Add(time.Hour))
	again.SessionID, other.SessionID, other.Kind = first.SessionID, first.SessionID, passkey.KindRegister
	signIn1, signIn2 := newCeremony("sign-in-1", 0, t0.Add(time.Hour)), newCeremony("sign-in-2", 0, t0.Add(time.Hour))
	signIn1.Kind, signIn1.SessionID, signIn2.Kind, signIn2.SessionID = passkey.KindSignIn, "", passkey.KindSignIn, ""
	for _, c := range []*passkey.Ceremony{first, other, again, signIn1, signIn2} {
		if err := st.SaveCeremony(ctx, c, t0); err != nil {
			t.Fatalf("SaveCeremony(%s) = %v", c.Key, err)
		}
	}
	_, err = st.TakeCeremony(ctx, "first")
	checkNotFound(t, "TakeCeremony(superseded by its session's next begin)", err)
	for _, key := range []string{"again", "other-kind", "sign-in-1", "sign-in-2"} {
		if _, err := st.TakeCeremony(ctx, key); err != nil {
			t.Errorf("TakeCeremony(%s) = %v, want it kept", key, err)
		}
	}
}

func testPasskeyCeremonyConcurrentTake(t *testing.T, st PasskeyStore) {
	if err := st.SaveCeremony(t.Context(), newCeremony("once", 0, t0.Add(time.Minute)), t0); err != nil {
		t.Fatal(err)
	}
	var won atomic.Int32
	Concurrently(8, func(int) {
		switch _, err := st.TakeCeremony(t.Context(), "once"); {
		case err == nil:
			won.Add(1)
		case !errors.Is(err, auth.ErrNotFound):
			t.Errorf("TakeCeremony(concurrent) = %v", err)
		}
	})
	if won.Load() != 1 {
		t.Errorf("8 concurrent TakeCeremony(same key): %d got it, want 1", won.Load())
	}
}

func testPasskeyDeleteUser(t *testing.T, st PasskeyStore) {
	ctx := t.Context()
	u, _ := mustCreateUser(t, st, "owner@example.com")
	if _, err := st.PasskeyHandle(ctx, u.ID, []byte("handle")); err != nil {
		t.Fatal(err)
	}
	mustAddPasskey(t, st, newPasskey(u.ID, "k1", t0))
	if err := st.SaveCeremony(ctx, newCeremony("c1", u.ID, t0.Add(time.Hour)), t0); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DeleteUser(ctx, u.ID); err != nil {
		t.Fatalf("DeleteUser() = %v", err)
	}
	_, err := st.PasskeyUser(ctx, []byte("handle"))
	checkNotFound(t, "PasskeyUser(deleted user's handle)", err)
	_, err = st.TakeCeremony(ctx, "c1")
	checkNotFound(t, "TakeCeremony(deleted user's)", err)
	// The credential id is free again: the row went with the user.
	v, _ := mustCreateUser(t, st, "next@example.com")
	mustAddPasskey(t, st, newPasskey(v.ID, "k1", t0))
}
