package auth_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/authtest"
)

func TestMemoryCounterContract(t *testing.T) {
	authtest.RunCounterTests(t, func(t *testing.T) auth.Counter {
		return auth.NewMemoryCounter(nil, 1000)
	})
}
