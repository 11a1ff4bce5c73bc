package postgres

import (
	"testing"

	"github.com/gatehouse/gatehouse/internal/authtest"
)

func TestImportSessions(t *testing.T) {
	authtest.RunImportSessionsTests(t, func(t *testing.T) authtest.SessionImporter {
		st, _ := newTestStore(t)
		return st
	})
}

func TestImportedSessions(t *testing.T) {
	authtest.RunImportedSessionTests(t, func(t *testing.T) authtest.ImportedStore {
		st, _ := newTestStore(t)
		return st
	})
}
