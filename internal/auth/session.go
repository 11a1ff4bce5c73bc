package auth

import "time"

// Session is one sign-in of a user (the gem's "ruid"). Its access-token id,
// refresh token and CSRF secret are not stored: they are derived from the
// session key, ID and Generation (see sessionKeys), so the store holds no
// bearer secret and a refresh that lost a race can hand back exactly what
// the winner issued.
type Session struct {
	ID     string // ruid, a UUID v4
	UserID int64
	// Generation counts refreshes. Each refresh moves it on by one inside a
	// compare-and-swap, which is what makes rotation race-free across nodes.
	Generation int64
	// RotatedAt is when Generation last changed; the refresh grace window
	// runs from here.
	RotatedAt       time.Time
	AccessExpiresAt time.Time // exp of the current access token
	CreatedAt       time.Time
	// LastUsedAt is updated when the session is created or refreshed, not on
	// every request (that would be a write per request).
	LastUsedAt time.Time
	ExpiresAt  time.Time // absolute end; refreshing never extends it
	RevokedAt  time.Time // zero while live
	IP         string
	UserAgent  string
}

// Revoked reports whether the session was ended.
func (s *Session) Revoked() bool { return !s.RevokedAt.IsZero() }

// Live reports whether s can still authenticate at now.
func (s *Session) Live(now time.Time) bool { return !s.Revoked() && now.Before(s.ExpiresAt) }

// Grant is what a successful register, sign-in, refresh or password change
// hands to the client.
type Grant struct {
	UserID           int64
	SessionID        string
	AccessToken      string
	AccessExpiresAt  time.Time
	RefreshToken     string
	RefreshExpiresAt time.Time // the session's end
	CSRFSecret       []byte
	// DeviceToken is set by SignIn: the device token to hand the client
	// for its next sign-ins (device.go).
	DeviceToken string
}

// Principal is the authenticated caller of a request.
type Principal struct {
	UserID    int64
	SessionID string
	AccessID  string // uid of the presented access token
	// csrf holds the secrets a request may carry: the current one and,
	// during the refresh grace window, the previous one.
	csrf [2][]byte
}

// SessionInfo is a session as its owner sees it in the session list.
type SessionInfo struct {
	ID         string
	CreatedAt  time.Time
	LastUsedAt time.Time
	ExpiresAt  time.Time
	IP         string
	UserAgent  string
	Current    bool
}

// Client describes where a request came from, recorded on new sessions and
// in the audit log.
type Client struct {
	IP        string
	UserAgent string
	// Network is the address as an attacker holds it, which rate limits
	// and back-off key on: an IPv6 client controls a whole /64, so
	// counting its single addresses would hand it 2^64 budgets. Empty
	// means IP.
	Network string
	// Device is the device token the client sent (device.go), if any.
	Device string
}

// limitAddr is the key of the client's per-address budgets.
func (c Client) limitAddr() string {
	if c.Network != "" {
		return c.Network
	}
	return c.IP
}
