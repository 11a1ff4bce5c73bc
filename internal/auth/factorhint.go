package auth

import "context"

// Most users have no second factor, and asking every registered factor
// costs a read each: a password sign-in would pay them all for nothing.
// So the user row carries a hint, User.MayHaveSecondFactor, read with the
// user, and the factors are asked only when it is set.
//
// The hint must never be clear while the user has a factor: that would
// skip their second step. Two rules keep it so.
//
//  1. The store sets it, and bumps User.FactorVersion, in the statement
//     that makes a factor usable (a confirmed TOTP secret, recovery codes,
//     a passkey): triggers in the migrations, so no code path that writes
//     a factor can forget it. No factor is usable before its hint.
//  2. Only clearFactorHint clears it, after a removal, and only by a
//     compare-and-swap on the FactorVersion read before the factors were
//     asked. Whatever was added before that read, the reads see; whatever
//     is added after it moves the version, and the swap fails (on
//     PostgreSQL the swap waits for a concurrent insert's row lock, then
//     sees the moved version; on SQLite writes are serial). A hint set
//     wrongly costs reads, never a second step.
//
// A sign-in reads the hint with the user, before the password check, and
// so is ordered before a factor added meanwhile, as it was when the
// factors were read just before the session was written.

// secondFactorsOf is SecondFactors of u, read from the store, with no
// reads at all when its hint says it has none.
func (s *Service) secondFactorsOf(ctx context.Context, u *User) ([]Method, error) {
	if !u.MayHaveSecondFactor {
		return nil, nil
	}
	return s.SecondFactors(ctx, u.ID)
}

// clearFactorHint clears u's hint after a removal that left the user no
// factor; u must have been read before the factors were found gone. A
// failure only leaves the hint set, which costs reads, so it is logged.
func (s *Service) clearFactorHint(ctx context.Context, u *User) {
	if !u.MayHaveSecondFactor {
		return
	}
	err := commit(ctx, func(ctx context.Context) error {
		return s.store.ClearSecondFactorHint(ctx, u.ID, u.FactorVersion)
	})
	if err != nil {
		s.log.Warn("second-factor hint not cleared", "user_id", u.ID, "err", err)
	}
}
