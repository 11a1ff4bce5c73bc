package postgres

import (
	"testing"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authtest"
)

func TestCounterContract(t *testing.T) {
	authtest.RequireService(t, authtest.PostgresURLEnv) // one skip, not one per subtest
	authtest.RunCounterTests(t, func(t *testing.T) auth.Counter {
		st, _ := newTestStore(t)
		return st.Counter()
	})
}
