package passkey

import (
	"context"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// Factor is passkeys as auth sees a second factor (auth.SecondFactor): a
// user with a passkey has one. It needs only the store, so the admin
// commands can register it (to list and reset passkeys) on a node where
// no relying party is configured.
type Factor struct{ store Store }

var _ auth.SecondFactor = Factor{}

// NewFactor returns the passkeys of st as a second factor.
func NewFactor(st Store) Factor { return Factor{store: st} }

// Kind is auth.MethodPasskey.
func (Factor) Kind() auth.Method { return auth.MethodPasskey }

// Enrolled reports whether the user has a passkey.
func (f Factor) Enrolled(ctx context.Context, userID int64) (bool, error) {
	list, err := f.store.Passkeys(ctx, userID)
	return len(list) > 0, err
}

// Reset removes every passkey of the user (an administrator's reset of a
// lost factor). The user's handle stays: a passkey left on a device then
// names a user with no passkeys, and fails like an unknown one.
func (f Factor) Reset(ctx context.Context, userID int64) error {
	return auth.Commit(ctx, func(ctx context.Context) error {
		_, err := f.store.DeletePasskeys(ctx, userID)
		return err
	})
}
