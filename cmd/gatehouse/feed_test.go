package main

import (
	"io"
	"net/http/httptest"
	"testing"
	"time"
)

// TestCLIRevocationReachesRunningServer: on SQLite the admin CLI writes
// the database file directly; the running server learns of its
// revocations through the change log, within a poll interval or so.
func TestCLIRevocationReachesRunningServer(t *testing.T) {
	c := newCLI(t)
	a := c.app()
	cfg, _ := parseConfig("serve", []string{"--db", c.db}, noEnv, io.Discard)
	defer startFeed(a.store, a.svc, newLogger(cfg, io.Discard))()
	srv := httptest.NewServer(a.handler)
	defer srv.Close()

	st, body := call(t, "POST", srv.URL+"/v1/auth", "", `{"email":"ada@example.com","password":"correct horse battery","password_confirmation":"correct horse battery"}`)
	if st != 201 {
		t.Fatalf("register: got %d", st)
	}
	access := body["access"].(string)
	if st, _ := call(t, "GET", srv.URL+"/v1/auth/me", access, ""); st != 200 {
		t.Fatalf("me before the CLI revocation: got %d, want 200", st)
	}
	sessions, err := a.svc.UserSessions(t.Context(), 1)
	if err != nil || len(sessions) != 1 {
		t.Fatalf("UserSessions(1) = %v, %v; want one session", sessions, err)
	}

	start := time.Now()
	c.mustRun("sessions", "revoke", sessions[0].ID)
	for {
		st, _ := call(t, "GET", srv.URL+"/v1/auth/me", access, "")
		if st == 401 {
			t.Logf("the server saw the CLI's revocation after %v", time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Since(start) > 2*time.Second {
			t.Fatalf("me 2s after 'gatehouse sessions revoke': got %d, want 401", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPrunerDeletesEndedSessions: serve's pruner removes sessions that
// ended longer ago than the retention, and keeps the rest.
func TestPrunerDeletesEndedSessions(t *testing.T) {
	c := newCLI(t)
	a := c.app()
	srv := httptest.NewServer(a.handler)
	defer srv.Close()
	for _, email := range []string{"old@example.com", "live@example.com"} {
		if st, _ := call(t, "POST", srv.URL+"/v1/auth", "", `{"email":"`+email+`","password":"correct horse battery","password_confirmation":"correct horse battery"}`); st != 201 {
			t.Fatalf("register %s: got %d", email, st)
		}
	}
	old, err := a.svc.UserSessions(t.Context(), 1)
	if err != nil || len(old) != 1 {
		t.Fatalf("UserSessions(1) = %v, %v", old, err)
	}
	// Revoked well before the retention: the pruner's to delete.
	if err := a.store.RevokeSession(t.Context(), old[0].ID, time.Now().Add(-endedSessionRetention-time.Hour)); err != nil {
		t.Fatal(err)
	}
	pruneEndedSessions(t.Context(), a.store, newLogger(&Config{LogFormat: "text"}, io.Discard))
	if _, err := a.store.Session(t.Context(), old[0].ID); err == nil {
		t.Error("a session revoked beyond the retention survived the pruner")
	}
	if live, err := a.svc.UserSessions(t.Context(), 2); err != nil || len(live) != 1 {
		t.Errorf("UserSessions(2) after pruning = %v, %v; want the live session kept", live, err)
	}
}
