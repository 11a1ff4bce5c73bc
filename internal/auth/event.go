package auth

// EventType names an auth event of the audit trail.
type EventType string

// Audit events. Each is reported once, after the change it describes has
// committed.
const (
	EventRegistered      EventType = "register"
	EventSignedIn        EventType = "sign_in"
	EventSignInFailed    EventType = "sign_in_failed"
	EventRefreshed       EventType = "refresh"
	EventRefreshReused   EventType = "refresh_reused"
	EventSignedOut       EventType = "sign_out"
	EventSessionRevoked  EventType = "session_revoked"
	EventPasswordChanged EventType = "password_changed"
	EventRateLimited     EventType = "rate_limited"
	EventAccountLocked   EventType = "account_locked"
	EventEmailConfirmed  EventType = "email_confirmed"
	EventEmailChanged    EventType = "email_changed"

	// Second factors. A pending sign-in is not yet signed in; it becomes
	// sign_in when a second factor finishes it.
	EventSecondFactorPending EventType = "second_factor_pending"
	EventSecondFactorFailed  EventType = "second_factor_failed"
	EventReauthenticated     EventType = "reauthenticated"
	EventFactorAdded         EventType = "factor_added"
	EventFactorRemoved       EventType = "factor_removed"
	EventRecoveryCodeUsed    EventType = "recovery_code_used"

	// Administration (the command line).
	EventUserCreated     EventType = "user_created"
	EventAccountUnlocked EventType = "account_unlocked"
	EventUserDeleted     EventType = "user_deleted"
)

// Event is one entry of the audit trail. It never carries a secret.
type Event struct {
	Type      EventType
	UserID    int64  // 0 if unknown (a failed sign-in for an unknown email)
	SessionID string // "" if none
	IP        string
	// Reason says why a sign-in failed or a session was revoked.
	Reason string
}
