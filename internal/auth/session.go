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
	// Pending marks a password sign-in of a user with a second factor that
	// has not been completed yet: its tokens can only finish the second
	// step or sign out (httpapi), and it lives minutes, not days.
	Pending bool
	// Methods are how the sign-in was proven, in the order they were
	// (password, then totp); they set the session's AAL. Only finishing a
	// pending sign-in changes them, and that rotates the session, so every
	// node's cached copy of a generation holds the right ones.
	Methods []Method
	// AuthenticatedAt is when the session last proved its user (the
	// sign-in, or a later step-up), and AuthenticatedBy with what: the
	// step-up rule (RequireRecentAuth) reads them from the store.
	AuthenticatedAt time.Time
	AuthenticatedBy Method
	// Imported holds the credentials of generation 0 of a session moved
	// from the system Gatehouse replaces (imported.go); nil for every
	// session Gatehouse started.
	Imported *ImportedSecrets
}

// signInMethods are s.Methods, or a password for a session stored before
// second factors existed (or bulk-imported), which was a password sign-in.
func (s *Session) signInMethods() []Method {
	if len(s.Methods) == 0 {
		return []Method{MethodPassword}
	}
	return s.Methods
}

// lastProof is when and how s last proved its user; a session that does
// not say was proven by its password when it was created.
func (s *Session) lastProof() (time.Time, Method) {
	if s.AuthenticatedAt.IsZero() {
		return s.CreatedAt, MethodPassword
	}
	return s.AuthenticatedAt, s.AuthenticatedBy
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
	// SecondFactors is set when the grant is of a pending sign-in: the
	// kinds of second factor that can finish it.
	SecondFactors []Method
}

// Principal is the authenticated caller of a request.
type Principal struct {
	UserID    int64
	SessionID string
	AccessID  string // uid of the presented access token
	// Pending: the session waits for its second factor (Session.Pending).
	Pending bool
	// Methods are how the session's sign-in was proven (Session.Methods).
	Methods []Method
	// AuthenticatedAt is when this node last knew the session to prove
	// its user; a step-up on another node shows from the session's next
	// refresh (RequireRecentAuth reads the store, not this).
	AuthenticatedAt time.Time
	// csrf holds the secrets a request may carry: the current one and,
	// during the refresh grace window, the previous one.
	csrf [2][]byte
}

// AAL is the principal's authenticator assurance level (see AAL).
func (p *Principal) AAL() int { return AAL(p.Methods) }

// SessionInfo is a session as its owner sees it in the session list.
type SessionInfo struct {
	ID         string
	CreatedAt  time.Time
	LastUsedAt time.Time
	ExpiresAt  time.Time
	IP         string
	UserAgent  string
	Current    bool
	Pending    bool
	Methods    []Method
	// AuthenticatedAt is the session's last proof: sign-in or step-up.
	AuthenticatedAt time.Time
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

// limitAddr is the key of the client's per-address budgets. Clients
// whose address is unknown (a request whose peer address did not parse)
// share one budget: no check runs outside the address budgets.
func (c Client) limitAddr() string {
	switch {
	case c.Network != "":
		return c.Network
	case c.IP != "":
		return c.IP
	}
	return unknownAddress
}

// unknownAddress is the budget key of clients without an address. It
// cannot collide with an address: those are IPs or prefixes in CIDR form.
const unknownAddress = "unknown"
