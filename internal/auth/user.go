package auth

import "time"

// User is an account. Email is stored normalized (trimmed, lower-cased) and
// is unique. PasswordHash is an argon2id PHC string, or a bcrypt digest for
// users imported from the Rails app until their next sign-in.
type User struct {
	ID           int64
	Email        string
	PasswordHash string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// LockedAt is when an administrator or the failure limit locked the
	// account; zero means unlocked. A locked account cannot sign in with its
	// password.
	LockedAt time.Time
	// EmailUnconfirmed is set at registration until the address is
	// confirmed by link (or a password reset, which proves it too).
	EmailUnconfirmed bool
	// MayHaveSecondFactor is false only while the user has no second
	// factor: the store sets it whenever one is added (and bumps
	// FactorVersion), atomically with the factor; only
	// ClearSecondFactorHint clears it. A password sign-in asks the
	// factors only when it is set (factorhint.go).
	MayHaveSecondFactor bool
	// FactorVersion counts the second factors ever added to the user.
	FactorVersion int64
}

// Locked reports whether password sign-in is disabled for u.
func (u *User) Locked() bool { return !u.LockedAt.IsZero() }

// ImportStatus is the outcome of importing one user row.
type ImportStatus int

// Import outcomes. Importing is idempotent: a row already present with the
// same id and email is Unchanged, not an error.
const (
	ImportInserted  ImportStatus = iota + 1
	ImportUnchanged              // same id and email already present
	ImportConflict               // id or email belongs to a different user
)
