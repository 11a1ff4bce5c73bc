package authtest

import (
	"os"
	"testing"
)

// RequireService returns the value of envVar, the address of a real server
// (PostgreSQL, Redis) for integration tests. When it is unset the test is
// skipped, so `go test ./...` works on a laptop; but when CI is set a
// missing service fails the test, so CI can never pass by silently skipping
// the backend it was meant to exercise.
func RequireService(t testing.TB, envVar string) string {
	t.Helper()
	v := os.Getenv(envVar)
	if v != "" {
		return v
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not set, and CI is: the service tests must run in CI", envVar)
	}
	t.Skipf("set %s to run against a real server", envVar)
	return ""
}
