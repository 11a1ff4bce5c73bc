package passkey

import (
	"context"
	"errors"
	"strings"
	"time"
)

// Credential is one registered passkey: what the authenticator told us at
// registration and what each use has changed since. Nothing in it is a
// secret; the private key never leaves the authenticator.
type Credential struct {
	// ID is the credential id the authenticator chose (at most 1023
	// bytes); the API shows it base64url-encoded.
	ID     []byte
	UserID int64
	// PublicKey is the COSE-encoded public key.
	PublicKey []byte
	// SignCount is the last signature counter seen; zero for
	// authenticators that keep none (most synced passkeys).
	SignCount  uint32
	AAGUID     []byte
	Transports []string
	// BackupEligible never changes after registration (the library
	// refuses an assertion whose flag differs); BackedUp may.
	BackupEligible bool
	BackedUp       bool
	Name           string
	CreatedAt      time.Time
	LastUsedAt     time.Time // zero: never used since registration
}

// Kind names what a ceremony is for; a challenge only finishes the kind
// of ceremony it was begun for.
type Kind string

// The ceremonies.
const (
	KindRegister     Kind = "register"      // add a passkey (bound to the session)
	KindSignIn       Kind = "sign_in"       // passwordless, discoverable (bound to nothing but its challenge)
	KindSecondFactor Kind = "second_factor" // finish a pending sign-in (bound to the pending session)
	KindStepUp       Kind = "step_up"       // prove presence for a dangerous change (bound to the session)
)

// Ceremony is a begun ceremony waiting for its finish, stored so that the
// finish may reach any node.
type Ceremony struct {
	// Key is derived from the challenge (CeremonyKey), which the finish
	// carries inside the signed client data: no separate id travels.
	Key       string
	Kind      Kind
	SessionID string // "" for KindSignIn
	UserID    int64  // 0 for KindSignIn
	// Name is the passkey's name chosen at KindRegister's begin.
	Name string
	// Data is the library's session data (challenge, allowed
	// credentials, user verification), as JSON.
	Data      []byte
	ExpiresAt time.Time
}

// Errors of the Store besides the auth.ErrNotFound every lookup returns.
var (
	// ErrCredentialTaken: a credential with this id is registered already
	// (to this user or, by a confused or malicious authenticator, another).
	ErrCredentialTaken = errors.New("passkey: credential id already registered")
	// ErrCounterRegressed: the signature counter presented is not above
	// the stored one, which the spec reads as a sign of a cloned
	// authenticator.
	ErrCounterRegressed = errors.New("passkey: signature counter did not increase")
)

// Store keeps passkeys and ceremonies. Every backend implements it and
// passes authtest.RunPasskeyStoreTests. Deleting a user deletes its
// passkeys, handle and ceremonies.
type Store interface {
	// PasskeyHandle returns the user's WebAuthn user handle, storing
	// fresh as the handle first if the user has none yet (the first of
	// two racing calls wins; both get the winner). auth.ErrNotFound if
	// the user is absent.
	PasskeyHandle(ctx context.Context, userID int64, fresh []byte) ([]byte, error)
	// FindPasskeyHandle returns the user's handle; auth.ErrNotFound if
	// PasskeyHandle never stored one.
	FindPasskeyHandle(ctx context.Context, userID int64) ([]byte, error)
	// PasskeyUser returns the user whose handle is handle.
	// auth.ErrNotFound if none.
	PasskeyUser(ctx context.Context, handle []byte) (int64, error)
	// AddPasskey inserts c. ErrCredentialTaken if its ID is registered;
	// auth.ErrNotFound if the user is absent.
	AddPasskey(ctx context.Context, c *Credential) error
	// Passkeys returns the user's passkeys, oldest first.
	Passkeys(ctx context.Context, userID int64) ([]Credential, error)
	// RenamePasskey renames the user's passkey id. auth.ErrNotFound if the
	// user has no such passkey.
	RenamePasskey(ctx context.Context, userID int64, id []byte, name string) error
	// DeletePasskey deletes the user's passkey id. auth.ErrNotFound if the
	// user has no such passkey.
	DeletePasskey(ctx context.Context, userID int64, id []byte) error
	// DeletePasskeys deletes every passkey of the user and returns how
	// many there were.
	DeletePasskeys(ctx context.Context, userID int64) (int, error)
	// UsePasskey records a verified assertion of passkey id: its counter,
	// backup state and time, only if count is above the stored counter
	// or both are zero, in one statement, so that of two assertions
	// racing with the same counter one fails. ErrCounterRegressed
	// otherwise; auth.ErrNotFound if the passkey is gone.
	UsePasskey(ctx context.Context, id []byte, count uint32, backedUp bool, at time.Time) error
	// SaveCeremony stores c and deletes ceremonies that expired before
	// now, so abandoned ceremonies do not pile up, and, if c belongs to a
	// session, that session's earlier ceremony of c's kind: a session
	// looping on a begin holds one row per kind, not one per request (a
	// sign-in's ceremony, of no session, is bounded by the address's
	// sign-in budget instead).
	SaveCeremony(ctx context.Context, c *Ceremony, now time.Time) error
	// TakeCeremony deletes ceremony key and returns it, in one statement:
	// of two finishes racing with one challenge, exactly one gets it.
	// auth.ErrNotFound if absent (never begun, taken, or pruned). It does
	// not check expiry; the caller does, on its clock.
	TakeCeremony(ctx context.Context, key string) (*Ceremony, error)
}

// PruneBatch bounds how many expired ceremonies one SaveCeremony deletes,
// so that a backlog never makes one begin slow; each begin prunes, so the
// backlog drains faster than begins can add to it.
const PruneBatch = 100

// JoinTransports and SplitTransports are how stores keep a passkey's
// transports in one text column.
func JoinTransports(ts []string) string { return strings.Join(ts, ",") }

// SplitTransports is the inverse of JoinTransports.
func SplitTransports(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
