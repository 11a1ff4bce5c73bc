package password_test

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/password"
)

// The sign-in flow: take a limiter slot, verify (or dummy-verify when the
// account does not exist), and upgrade the stored hash when it is weak.
func Example() {
	// Production code uses password.DefaultParams(); these are tiny so the
	// example runs instantly.
	h := password.NewHasher(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	limiter := password.NewLimiter(password.DefaultSlots(), 100*time.Millisecond)

	stored, _ := h.Hash("tr0ub4dor&3-but-longer")

	release, _, err := limiter.Acquire(context.Background(), "")
	if err != nil {
		fmt.Println("busy:", err) // a 503 with Retry-After, not a 401
		return
	}
	defer release()

	ok, err := h.Verify("tr0ub4dor&3-but-longer", stored)
	fmt.Println(ok, err, h.NeedsRehash(stored))

	h.DummyVerify("whatever") // for an unknown email
	fmt.Println(password.IsCommon("Password1"))
	// Output:
	// true <nil> false
	// true
}
