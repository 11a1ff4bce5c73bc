package postgres

import (
	"context"
	"github.com/gatehouse/gatehouse/internal/authtest"
	"net/url"
	"testing"
)

// TestOpen_LeastPrivilegeRole: once `gatehouse migrate` ran with a role
// that may change the schema, nodes can run as a role that may only read
// and write rows. Opening a current database must not attempt any DDL.
func TestOpen_LeastPrivilegeRole(t *testing.T) {
	admin, dbURL := newTestStore(t) // migrated by the admin role
	admin.Close()
	u, _ := url.Parse(dbURL)
	role := "gh_rw_" + u.Path[len("/gh_test_"):] // unique per test database
	authtest.AdminExec(t, dbURL, "CREATE ROLE "+role+" LOGIN")
	t.Cleanup(func() {
		authtest.AdminExec(t, dbURL, "DROP OWNED BY "+role)
		authtest.AdminExec(t, dbURL, "DROP ROLE "+role)
	})
	authtest.AdminExec(t, dbURL, "REVOKE CREATE ON SCHEMA public FROM PUBLIC")
	authtest.AdminExec(t, dbURL, "GRANT USAGE ON SCHEMA public TO "+role)
	authtest.AdminExec(t, dbURL, "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "+role)
	authtest.AdminExec(t, dbURL, "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO "+role)

	u.User = url.User(role)
	s, err := Open(context.Background(), u.String())
	if err != nil {
		t.Fatalf("Open as a role without CREATE: %v", err)
	}
	defer s.Close()
	if err := s.Ready(t.Context()); err != nil {
		t.Errorf("Ready as a role without CREATE: %v", err)
	}
}
