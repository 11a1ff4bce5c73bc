package verifier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse/gatehouse/internal/token"
)

// Config configures a Verifier.
type Config struct {
	// URL is Gatehouse's base URL, as in "https://auth.example.com".
	URL string
	// ServiceToken authenticates the revocation stream
	// (gatehouse service-tokens create).
	ServiceToken string
	// HS256Key is Gatehouse's HS256 key (--secret). Nil: tokens are
	// EdDSA or ES256, verified with the keys published at
	// URL/.well-known/jwks.json.
	HS256Key []byte
	// MaxSilence is how long the stream may be silent before every token
	// is refused (fail closed). Default 10 s; Gatehouse sends a heartbeat
	// every 2 s. It bounds how long a token revoked while the stream is
	// cut can still be accepted.
	MaxSilence time.Duration
	// JWKSRefresh is how often the JWKS is fetched again; default 5 min
	// (Gatehouse publishes a key 5 min 20 s before it signs with it).
	JWKSRefresh time.Duration
	// CookieName is the cookie read when there is no Authorization header,
	// for GET, HEAD and OPTIONS only (see tokenOf); default "jwt_access".
	// "-" reads no cookie.
	CookieName string
	// Client makes the requests to Gatehouse; default a client without an
	// overall timeout (the stream lives long) and a 5 s dial timeout.
	Client *http.Client
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives connection problems; default discards.
	Logger *slog.Logger
}

// Principal is the caller of an authenticated request.
type Principal struct {
	UserID    int64
	SessionID string
	// TokenID is the access token's uid.
	TokenID string
	// AuthLevel is how the session was authenticated; "password" unless
	// the token says otherwise (claim "acr").
	AuthLevel string
}

// Errors of Verify. ErrStale means the verifier cannot vouch for any token
// right now (503); the others mean this token is not acceptable (401).
var (
	ErrNoToken      = errors.New("verifier: no access token")
	ErrInvalidToken = errors.New("verifier: invalid access token")
	ErrExpired      = errors.New("verifier: access token expired")
	ErrRevoked      = errors.New("verifier: access token revoked or replaced")
	ErrStale        = errors.New("verifier: revocation stream silent for too long")
)

// Verifier checks access tokens against its copy of Gatehouse's
// revocations. Run must be running for it to accept anything.
type Verifier struct {
	cfg     Config
	hs      *token.Issuer // with HS256Key
	parser  *jwt.Parser   // and keys, without
	keys    *jwks
	state   revocations
	pos     atomic.Int64
	lastOK  atomic.Int64 // Unix nanoseconds the stream was last known complete; 0 never
	running atomic.Bool
}

// New checks cfg and returns a Verifier; start it with Run.
func New(cfg Config) (*Verifier, error) {
	if cfg.URL == "" || cfg.ServiceToken == "" {
		return nil, errors.New("verifier: URL and ServiceToken are required")
	}
	cfg.URL = strings.TrimSuffix(cfg.URL, "/")
	if cfg.MaxSilence <= 0 {
		cfg.MaxSilence = 10 * time.Second
	}
	if cfg.JWKSRefresh <= 0 {
		cfg.JWKSRefresh = 5 * time.Minute
	}
	if cfg.CookieName == "" {
		cfg.CookieName = "jwt_access"
	}
	if cfg.Client == nil {
		cfg.Client = defaultClient()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	v := &Verifier{cfg: cfg, state: revocations{m: make(map[string]*session)}}
	if cfg.HS256Key != nil {
		// Gatehouse's own verifier: the seed's exact header and claims,
		// one HMAC, one allocation. Gatehouse's exp is exact (a token at
		// its exp is expired on every node), so no leeway; the TTL only
		// bounds how far ahead an exp may lie, which the signature
		// already vouches for.
		hs, err := token.NewIssuer(cfg.HS256Key, maxTTL, 0)
		if err != nil {
			return nil, fmt.Errorf("verifier: HS256Key: %w", err)
		}
		v.hs = hs
		return v, nil
	}
	v.keys = newJWKS(cfg)
	v.parser = jwt.NewParser(jwt.WithExpirationRequired(), jwt.WithTimeFunc(cfg.Now),
		jwt.WithValidMethods([]string{"EdDSA", "ES256"}))
	return v, nil
}

// maxTTL is the longest access-token lifetime the verifier accepts.
const maxTTL = 30 * 24 * time.Hour

// claims are Gatehouse's access-token claims.
type claims struct {
	jwt.RegisteredClaims
	UserID int64  `json:"user_id"`
	UID    string `json:"uid"`
	RUID   string `json:"ruid"`
	ACR    string `json:"acr,omitempty"`
	exp    int64
}

// Verify checks an access token and returns its principal. It makes no
// network call, except to fetch the JWKS again when a token names a key
// the verifier does not know (at most every 10 s).
func (v *Verifier) Verify(tok string) (*Principal, error) {
	if tok == "" {
		return nil, ErrNoToken
	}
	if !v.Healthy() {
		return nil, ErrStale
	}
	c, err := v.claimsOf(tok)
	if err != nil {
		return nil, err
	}
	if !v.state.accepts(c.RUID, c.UID, c.exp, v.cfg.Now()) {
		return nil, ErrRevoked
	}
	level := c.ACR
	if level == "" {
		level = "password"
	}
	return &Principal{UserID: c.UserID, SessionID: c.RUID, TokenID: c.UID, AuthLevel: level}, nil
}

// claimsOf checks the signature and expiry of tok.
func (v *Verifier) claimsOf(tok string) (*claims, error) {
	if v.hs != nil {
		hc, err := v.hs.Verify(tok, v.cfg.Now())
		switch {
		case errors.Is(err, token.ErrExpired):
			return nil, ErrExpired
		case err != nil:
			return nil, ErrInvalidToken
		}
		return &claims{UserID: hc.UserID, UID: hc.UID, RUID: hc.RUID, exp: hc.Exp}, nil
	}
	var c claims
	_, err := v.parser.ParseWithClaims(tok, &c, v.key)
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, ErrExpired
	case err != nil || c.UserID <= 0 || c.UID == "" || c.RUID == "":
		return nil, ErrInvalidToken
	}
	c.exp = c.ExpiresAt.Unix()
	return &c, nil
}

func (v *Verifier) key(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	return v.keys.key(kid, t.Method.Alg())
}

// Healthy reports whether the verifier currently vouches for tokens: the
// stream delivered its backlog and has not been silent beyond MaxSilence.
func (v *Verifier) Healthy() bool {
	last := v.lastOK.Load()
	return last != 0 && v.cfg.Now().Sub(time.Unix(0, last)) <= v.cfg.MaxSilence
}

// Position is the id of the last stream event applied (0 before any).
func (v *Verifier) Position() int64 { return v.pos.Load() }

type ctxKey struct{}

// FromContext returns the principal Middleware put in ctx.
func FromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(*Principal)
	return p, ok
}

// Middleware admits requests that carry an acceptable access token and
// puts their Principal in the request context; it answers the others with
// 401, or 503 while the stream is silent.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := v.Verify(v.tokenOf(r))
		if err != nil {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			if errors.Is(err, ErrStale) {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusServiceUnavailable)
				w.Write([]byte(`{"error":"Service temporarily unavailable","code":"unavailable"}`))
				return
			}
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":"Not authorized","code":"not_authorized"}`))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, p)))
	})
}

// tokenOf reads the token as Gatehouse does: the last piece of the
// Authorization header ("Bearer x" or bare), else the cookie.
func (v *Verifier) tokenOf(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if i := strings.LastIndexAny(h, " \t"); i >= 0 {
			return h[i+1:]
		}
		return h
	}
	// A cookie rides along on cross-site requests, and Gatehouse guards
	// cookie-authenticated changes with a CSRF token whose secret only it
	// can check. So the cookie counts only for methods that change
	// nothing; a POST must carry the token in the header (which no other
	// site can make a browser send).
	if v.cfg.CookieName != "-" && safeMethod(r.Method) {
		if c, err := r.Cookie(v.cfg.CookieName); err == nil {
			return c.Value
		}
	}
	return ""
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// session is what the stream said last about one session.
type session struct {
	revoked   bool
	uid       string
	prevUID   string
	prevUntil time.Time
	exp       int64 // no token of the session expires later
}

// revocations is the verifier's copy of the sessions the stream reported.
type revocations struct {
	mu sync.RWMutex
	m  map[string]*session
}

// accepts decides as Gatehouse's Authenticate does: a session the stream
// never mentioned is untouched; a revoked one accepts nothing; a rotated
// one accepts its current token, the previous one in grace, and tokens
// newer than the rotation reported (exp later: a rotation still on its way).
func (rs *revocations) accepts(sid, uid string, exp int64, now time.Time) bool {
	rs.mu.RLock()
	s := rs.m[sid]
	rs.mu.RUnlock()
	switch {
	case s == nil:
		return true
	case s.revoked:
		return false
	case uid == s.uid, uid == s.prevUID && now.Before(s.prevUntil):
		return true
	}
	return exp > s.exp
}

func (rs *revocations) apply(sid string, s *session) {
	rs.mu.Lock()
	rs.m[sid] = s
	rs.mu.Unlock()
}

// forget drops what can no longer matter: sessions all of whose tokens
// have expired.
func (rs *revocations) forget(now time.Time) {
	rs.mu.Lock()
	for sid, s := range rs.m {
		if s.exp < now.Unix() {
			delete(rs.m, sid)
		}
	}
	rs.mu.Unlock()
}

func (rs *revocations) reset() {
	rs.mu.Lock()
	clear(rs.m)
	rs.mu.Unlock()
}
