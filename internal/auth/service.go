package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/token"
)

// Config holds what a Service needs. Zero durations and sizes take the
// defaults of API.md.
type Config struct {
	Store Store
	// Key is the root secret: domain-separated, it derives the session
	// secrets, and it is the HS256 key "root" of the signing ring. At least
	// 32 bytes. Rotating signing keys (Tokens) never changes it, so it
	// signs nobody out.
	Key []byte
	// Tokens signs and verifies access tokens with the key ring; nil means
	// a ring of Key alone, the seed's HS256.
	Tokens       *token.Issuer
	Hasher       *password.Hasher
	HashLimiter  *password.Limiter
	AccessTTL    time.Duration // default 1h
	SessionTTL   time.Duration // default 168h
	RefreshGrace time.Duration // default 10s
	// PasswordMinLength is in Unicode characters; default 8.
	PasswordMinLength int
	// MaxSessionsPerUser caps live sessions; the oldest are evicted. Default 20.
	MaxSessionsPerUser int
	// CacheSize bounds the in-memory session cache. Default 100,000.
	CacheSize int
	// Now is the clock; default time.Now. Tests inject a fixed clock.
	// SyncClock corrects it by its measured offset from the store's.
	Now func() time.Time
	// MaxClockSkew bounds how far a node's clock may be from the
	// database's: access tokens minted that far ahead are still accepted,
	// and beyond it ClockReady fails. Default 30s.
	MaxClockSkew time.Duration
	// OnClockOffset receives each measured offset (a metric); may be nil.
	OnClockOffset func(time.Duration)
	// OnEvent receives the audit trail; may be nil.
	OnEvent func(Event)
	// OnHashWait receives how long each hash waited for a slot; may be nil.
	OnHashWait func(time.Duration)
	// Counter keeps the counts behind rate limits and back-off; nil turns
	// them off (--rate-limit=false).
	Counter Counter
	// Limits are the budgets; zero fields take DefaultLimits.
	Limits Limits
	// Logger receives internal errors; default discards.
	Logger *slog.Logger
	// ResetTTL is how long a password-reset link works; default 30m.
	ResetTTL time.Duration
	// MaxPendingMails bounds the outbox backlog; default 10,000.
	MaxPendingMails int
	// RequireEmailConfirmation refuses sign-in to unconfirmed addresses,
	// and registration then starts no session.
	RequireConfirmed bool
	// PendingTTL is how long a sign-in waits for its second factor;
	// default 5m.
	PendingTTL time.Duration
	// StepUpMaxAge is how recent the last proof of a session must be for
	// a dangerous change (RequireRecentAuth); default 10m.
	StepUpMaxAge time.Duration
}

// Service implements the use cases of the API on top of a Store.
type Service struct {
	store      Store
	hasher     *password.Hasher
	hashSlots  *password.Limiter
	tokens     *token.Issuer
	keys       sessionKeys
	devices    deviceKeys
	cache      *sessionCache
	accessTTL  time.Duration
	sessionTTL time.Duration
	grace      time.Duration
	minPwLen   int
	maxPerUser int
	// now reads the corrected clock (clock.go); localNow the node's own.
	now        func() time.Time
	localNow   func() time.Time
	maxSkew    time.Duration
	offset     atomic.Int64 // nanoseconds the database's clock is ahead
	onEvent    func(Event)
	onHashWait func(time.Duration)
	onOffset   func(time.Duration)
	log        *slog.Logger
	limits     *limiter
	// Mail links (outbox.go, recovery.go).
	mailKey         []byte
	resetTTL        time.Duration
	maxPendingMails int
	requireConfirm  bool
	// changed wakes revocation streams (revocations.go).
	changed signal
	// Second factors (factor.go, stepup.go).
	factors      []SecondFactor
	pendingTTL   time.Duration
	stepUpMaxAge time.Duration
}

// NewService checks cfg and builds a Service.
func NewService(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Hasher == nil || cfg.HashLimiter == nil {
		return nil, errors.New("auth: store, hasher and hash limiter are required")
	}
	withDefault(&cfg.AccessTTL, time.Hour)
	withDefault(&cfg.SessionTTL, 7*24*time.Hour)
	withDefault(&cfg.RefreshGrace, 10*time.Second)
	withDefault(&cfg.PasswordMinLength, 8)
	withDefault(&cfg.MaxSessionsPerUser, 20)
	withDefault(&cfg.CacheSize, 100_000)
	withDefault(&cfg.ResetTTL, 30*time.Minute)
	withDefault(&cfg.MaxPendingMails, 10_000)
	withDefault(&cfg.MaxClockSkew, 30*time.Second)
	withDefault(&cfg.PendingTTL, 5*time.Minute)
	withDefault(&cfg.StepUpMaxAge, 10*time.Minute)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.OnEvent == nil {
		cfg.OnEvent = func(Event) {}
	}
	if cfg.OnHashWait == nil {
		cfg.OnHashWait = func(time.Duration) {}
	}
	if cfg.OnClockOffset == nil {
		cfg.OnClockOffset = func(time.Duration) {}
	}
	if cfg.PasswordMinLength > maxPasswordChars {
		return nil, fmt.Errorf("auth: password minimum length %d is above the maximum %d", cfg.PasswordMinLength, maxPasswordChars)
	}
	if len(cfg.Key) < token.MinKeySize {
		return nil, fmt.Errorf("auth: root key is %d bytes, need at least %d", len(cfg.Key), token.MinKeySize)
	}
	tokens := cfg.Tokens
	if tokens == nil {
		var err error
		if tokens, err = NewIssuer(cfg.Key, cfg.AccessTTL, cfg.MaxClockSkew); err != nil {
			return nil, err
		}
	}
	s := &Service{
		store:      cfg.Store,
		hasher:     cfg.Hasher,
		hashSlots:  cfg.HashLimiter,
		tokens:     tokens,
		keys:       newSessionKeys(cfg.Key),
		devices:    newDeviceKeys(cfg.Key),
		cache:      newSessionCache(cfg.CacheSize),
		accessTTL:  cfg.AccessTTL,
		sessionTTL: cfg.SessionTTL,
		grace:      cfg.RefreshGrace,
		minPwLen:   cfg.PasswordMinLength,
		maxPerUser: cfg.MaxSessionsPerUser,
		localNow:   cfg.Now,
		maxSkew:    cfg.MaxClockSkew,
		onEvent:    cfg.OnEvent,
		onHashWait: cfg.OnHashWait,
		onOffset:   cfg.OnClockOffset,
		log:        cfg.Logger,

		mailKey:         mac(cfg.Key, "gatehouse/mail-token/v1"),
		resetTTL:        cfg.ResetTTL,
		maxPendingMails: cfg.MaxPendingMails,
		requireConfirm:  cfg.RequireConfirmed,

		pendingTTL:   cfg.PendingTTL,
		stepUpMaxAge: cfg.StepUpMaxAge,
	}
	if cfg.Counter != nil {
		s.limits = &limiter{Limits: withDefaultLimits(cfg.Limits), c: cfg.Counter, factorWindow: cfg.PendingTTL}
	}
	s.now = s.correctedNow
	return s, nil
}

// NewIssuer returns the token issuer a Service with this root key, access
// TTL and clock-skew bound (0: the defaults) would build: a ring of key
// alone, for the caller to give more keys (token.Issuer.SetKeys) and pass
// as Config.Tokens. The leeway lets a token minted by a node up to maxSkew
// ahead verify everywhere; at the other end Authenticate holds exp
// exactly: a token past its exp is token_expired, whichever node looks.
func NewIssuer(key []byte, accessTTL, maxSkew time.Duration) (*token.Issuer, error) {
	withDefault(&accessTTL, time.Hour)
	withDefault(&maxSkew, 30*time.Second)
	iss, err := token.NewIssuer(key, accessTTL, maxSkew)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return iss, nil
}

func withDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// clock returns now at the precision the stores keep, so a value written
// and read back compares equal.
func (s *Service) clock() time.Time {
	return s.now().UTC().Truncate(time.Microsecond)
}

// withHashSlot runs fn while holding one of the bounded hashing slots, so a
// flood of sign-ins queues briefly and then gets 503s instead of
// exhausting memory. key is whose share of the slots it uses (an account,
// a user, an address): one key cannot hold them all. The shares are an
// abuse defence like the budgets, so --rate-limit=false (benchmarks, load
// tests from one address) turns them off with the rest.
func (s *Service) withHashSlot(ctx context.Context, key string, fn func() error) error {
	if s.limits == nil {
		key = ""
	}
	release, waited, err := s.hashSlots.Acquire(ctx, key)
	s.onHashWait(waited)
	if err != nil {
		if errors.Is(err, password.ErrBusy) {
			return unavailable(err)
		}
		return err
	}
	defer release()
	return fn()
}

func withDefaultLimits(l Limits) Limits {
	d := DefaultLimits()
	withDefault(&l.SignInPerIP, d.SignInPerIP)
	withDefault(&l.RegisterPerIP, d.RegisterPerIP)
	withDefault(&l.RefreshPerIP, d.RefreshPerIP)
	withDefault(&l.PairFreeFailures, d.PairFreeFailures)
	withDefault(&l.PairMaxDelay, d.PairMaxDelay)
	withDefault(&l.AccountFreeFailures, d.AccountFreeFailures)
	withDefault(&l.AccountMaxDelay, d.AccountMaxDelay)
	withDefault(&l.FactorPerSession, d.FactorPerSession)
	withDefault(&l.FactorFreeFailures, d.FactorFreeFailures)
	return l
}
