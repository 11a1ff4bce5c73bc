package auth

import (
	"context"
	"time"
)

// storeTimeout bounds a store read on the authentication path, so that a
// hung database turns into a prompt 503 rather than a queue of requests.
const storeTimeout = 2 * time.Second

// Store is the persistent state of Gatehouse. Every backend (sqlite,
// postgres) implements it and passes authtest.RunStoreTests. A method that
// returns without error has committed durably. Driver failures come back
// wrapped with context; "not found" is ErrNotFound, never nil, nil.
type Store interface {
	UserStore
	SessionStore
	ChangeLog
	ServiceTokenStore
	MailStore

	// Now reads the database's clock, the one clock every node shares
	// (auth.Service.SyncClock).
	Now(ctx context.Context) (time.Time, error)
	// Ready reports whether the store is reachable and migrated.
	Ready(ctx context.Context) error
	Close() error
}

// UserStore keeps accounts.
type UserStore interface {
	// CreateUser inserts u, setting u.ID, with its first session s in one
	// transaction: registration either creates both or nothing. s may be
	// nil (an administrator creating an account). Returns ErrEmailTaken if
	// the email is in use.
	CreateUser(ctx context.Context, u *User, s *Session) error
	// UserByEmail looks up a normalized email. ErrNotFound if absent.
	UserByEmail(ctx context.Context, email string) (*User, error)
	// UserByID returns ErrNotFound if absent.
	UserByID(ctx context.Context, id int64) (*User, error)
	// SetPasswordHash replaces the hash of user id. ErrNotFound if absent.
	SetPasswordHash(ctx context.Context, id int64, hash string, at time.Time) error
	// SetLocked locks (at non-zero) or unlocks (at zero) user id.
	// ErrNotFound if absent.
	SetLocked(ctx context.Context, id int64, at time.Time) error
	// ClearSecondFactorHint clears MayHaveSecondFactor of user id only if
	// its FactorVersion is still version: a factor added since keeps it
	// set. A user absent, or with a moved version, is left alone, and is
	// not an error.
	ClearSecondFactorHint(ctx context.Context, id, version int64) error
	// DeleteUser removes user id and its sessions, returning the ids of the
	// sessions that were not revoked so callers can drop them from caches.
	// ErrNotFound if absent. User ids are never reused, even after a
	// delete: a stale token naming a deleted id must not match a new user.
	DeleteUser(ctx context.Context, id int64) (sessionIDs []string, err error)
	// ListUsers returns up to limit users with ID > afterID, by ID (none
	// for limit <= 0).
	ListUsers(ctx context.Context, afterID int64, limit int) ([]User, error)
	// ImportUsers inserts users keeping their IDs (and moves any id
	// sequence past them), one status per input row, in one transaction.
	// A row whose id and email are already present is ImportUnchanged even
	// if its hash differs (a re-run never overwrites a password changed
	// since). An id <= 0 fails the whole batch.
	ImportUsers(ctx context.Context, users []User) ([]ImportStatus, error)
}

// SessionStore keeps sessions.
type SessionStore interface {
	// CreateSession inserts s. If the user then has more than maxPerUser
	// live sessions that are not pending (maxPerUser > 0), the oldest
	// others are revoked at s.CreatedAt in the same transaction and their
	// ids returned, oldest first; s itself is never evicted. ErrNotFound
	// if the user is absent.
	CreateSession(ctx context.Context, s *Session, maxPerUser int) (evicted []string, err error)
	// Session returns ErrNotFound if absent.
	Session(ctx context.Context, id string) (*Session, error)
	// RotateSession moves session id from generation from to from+1 with
	// the given times (LastUsedAt = RotatedAt = at), only if it is still at
	// that generation and not revoked; otherwise ErrConflict. ErrNotFound if
	// absent. It returns the updated session.
	RotateSession(ctx context.Context, id string, from int64, at, accessExpiresAt time.Time) (*Session, error)
	// FinishSession completes pending session id: only if it is still at
	// generation from, pending and not revoked, it moves to from+1 with
	// f's times and methods (RotatedAt = LastUsedAt = AuthenticatedAt =
	// f.At, AuthenticatedBy = the last method) and stops being pending;
	// otherwise ErrConflict. ErrNotFound if absent. If the user then has
	// more than maxPerUser live sessions that are not pending
	// (maxPerUser > 0), the oldest others are revoked at f.At in the same
	// transaction and their ids returned, oldest first.
	FinishSession(ctx context.Context, id string, from int64, f SessionFinish, maxPerUser int) (*Session, []string, error)
	// SetSessionProof records a step-up of session id: AuthenticatedAt =
	// at, AuthenticatedBy = m. ErrNotFound if absent or revoked.
	SetSessionProof(ctx context.Context, id string, at time.Time, m Method) error
	// RevokeSession revokes session id at at (a no-op if already revoked).
	// ErrNotFound if absent.
	RevokeSession(ctx context.Context, id string, at time.Time) error
	// RevokeUserSessions revokes every live session of userID except the
	// one with id except (may be empty) and returns the revoked ids.
	RevokeUserSessions(ctx context.Context, userID int64, except string, at time.Time) ([]string, error)
	// ListSessions returns the sessions of userID that are live at now,
	// newest first.
	ListSessions(ctx context.Context, userID int64, now time.Time) ([]Session, error)
	// CountLiveSessions counts all users' sessions live at now (a metric).
	CountLiveSessions(ctx context.Context, now time.Time) (int64, error)
	// DeleteEndedSessions deletes up to limit sessions that expired or were
	// revoked before before, and returns how many it deleted.
	DeleteEndedSessions(ctx context.Context, before time.Time, limit int) (int64, error)
}

// SessionFinish is how FinishSession completes a pending sign-in.
type SessionFinish struct {
	At              time.Time
	AccessExpiresAt time.Time
	ExpiresAt       time.Time
	Methods         []Method
}
