package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// Limits are the abuse defences, on by default.
//
// Per client IP, each of sign-in, registration and refresh has a budget
// per minute. Per account, failed sign-ins back off exponentially on two
// keys: (account, IP), which trips early and only stops that address, and
// the account alone, which trips much later and spares addresses that
// signed in to the account successfully before. So an attacker guessing
// from one address is slowed at once; one spraying from many addresses
// slows only itself until the account-wide budget is spent, and even then
// the owner's known addresses keep working. After MaxFailures consecutive
// failures the account is locked until an administrator unlocks it
// (NIST SP 800-63B §5.2.2); the account-wide back-off makes that take days
// of sustained guessing, not minutes.
//
// Keys are derived from the normalized email, not the user id, so unknown
// emails back off exactly like known ones and a 429 does not reveal
// whether an account exists.
type Limits struct {
	SignInPerIP   int // per minute
	RegisterPerIP int // per minute
	RefreshPerIP  int // per minute
	// PairFreeFailures failures from one IP on one account are free; each
	// further one doubles that pair's wait, from 1 s up to PairMaxDelay.
	PairFreeFailures int
	PairMaxDelay     time.Duration
	// AccountFreeFailures failures on an account from anywhere are free;
	// then the same doubling applies account-wide, up to AccountMaxDelay,
	// for addresses that never signed in to the account.
	AccountFreeFailures int
	AccountMaxDelay     time.Duration
	// MaxFailures consecutive failures lock the account.
	MaxFailures int
}

// DefaultLimits are the production defaults (documented in docs/api.md).
func DefaultLimits() Limits {
	return Limits{
		SignInPerIP:         60,
		RegisterPerIP:       20,
		RefreshPerIP:        120,
		PairFreeFailures:    5,
		PairMaxDelay:        15 * time.Minute,
		AccountFreeFailures: 20,
		AccountMaxDelay:     time.Hour,
		MaxFailures:         100,
	}
}

const (
	ipWindow      = time.Minute
	failureWindow = 30 * 24 * time.Hour // "consecutive" failures are forgotten after a month of quiet
	knownIPWindow = 90 * 24 * time.Hour
)

// limiter applies Limits over a Counter. A nil *limiter allows everything
// (--rate-limit=false).
type limiter struct {
	Limits
	c   Counter
	now func() time.Time
}

func limitKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s|", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// allowIP counts one request of action from ip against its budget.
func (l *limiter) allowIP(ctx context.Context, action, ip string) error {
	if l == nil || ip == "" {
		return nil
	}
	perMinute := l.RefreshPerIP
	switch action {
	case "sign_in":
		perMinute = l.SignInPerIP
	case "register":
		perMinute = l.RegisterPerIP
	}
	n, resetAt, err := l.c.Incr(ctx, "ip:"+action+":"+ip, ipWindow)
	if err != nil {
		return unavailable(err)
	}
	if n > int64(perMinute) {
		return l.rateLimited(resetAt)
	}
	return nil
}

// checkSignIn refuses a sign-in attempt while its account or (account, IP)
// pair is backing off. It runs before the password is hashed, so a
// backed-off guess costs no hashing either.
func (l *limiter) checkSignIn(ctx context.Context, email, ip string) error {
	if l == nil {
		return nil
	}
	if err := l.blocked(ctx, "block:pair:"+limitKey(email, ip)); err != nil {
		return err
	}
	if known, _, err := l.c.Count(ctx, "known:"+limitKey(email, ip)); err != nil {
		return unavailable(err)
	} else if known > 0 {
		return nil
	}
	return l.blocked(ctx, "block:acct:"+limitKey(email))
}

func (l *limiter) blocked(ctx context.Context, key string) error {
	n, resetAt, err := l.c.Count(ctx, key)
	if err != nil {
		return unavailable(err)
	}
	if n > 0 {
		return l.rateLimited(resetAt)
	}
	return nil
}

// signInFailed records a failure and reports whether the account has now
// reached MaxFailures and must be locked.
func (l *limiter) signInFailed(ctx context.Context, email, ip string) (lock bool, err error) {
	if l == nil {
		return false, nil
	}
	pair, _, err := l.c.Incr(ctx, "fail:pair:"+limitKey(email, ip), failureWindow)
	if err != nil {
		return false, unavailable(err)
	}
	if err := l.backOff(ctx, "block:pair:"+limitKey(email, ip), pair, l.PairFreeFailures, l.PairMaxDelay); err != nil {
		return false, err
	}
	acct, _, err := l.c.Incr(ctx, "fail:acct:"+limitKey(email), failureWindow)
	if err != nil {
		return false, unavailable(err)
	}
	if err := l.backOff(ctx, "block:acct:"+limitKey(email), acct, l.AccountFreeFailures, l.AccountMaxDelay); err != nil {
		return false, err
	}
	// Every MaxFailures-th consecutive failure locks: an administrator's
	// unlock then buys a full new budget even where this count could not
	// be cleared (another process's in-memory counter).
	return acct%int64(l.MaxFailures) == 0, nil
}

// backOff starts a wait of 2^(n-free-1) seconds, capped, once n passes free.
func (l *limiter) backOff(ctx context.Context, key string, n int64, free int, max time.Duration) error {
	if n <= int64(free) {
		return nil
	}
	delay := max
	if shift := n - int64(free) - 1; shift < 32 {
		delay = min(time.Duration(1<<shift)*time.Second, max)
	}
	if _, _, err := l.c.Incr(ctx, key, delay); err != nil {
		return unavailable(err)
	}
	return nil
}

// signInSucceeded clears the failure counts and remembers ip as one the
// account's owner uses.
func (l *limiter) signInSucceeded(ctx context.Context, email, ip string) error {
	if l == nil {
		return nil
	}
	for _, k := range []string{
		"fail:pair:" + limitKey(email, ip), "block:pair:" + limitKey(email, ip),
		"fail:acct:" + limitKey(email), "block:acct:" + limitKey(email),
	} {
		if err := l.c.Reset(ctx, k); err != nil {
			return unavailable(err)
		}
	}
	if _, _, err := l.c.Incr(ctx, "known:"+limitKey(email, ip), knownIPWindow); err != nil {
		return unavailable(err)
	}
	return nil
}

// unlocked clears an account's failure history when an administrator
// unlocks it, so it does not relock on the next mistake.
func (l *limiter) unlocked(ctx context.Context, email string) error {
	if l == nil {
		return nil
	}
	for _, k := range []string{"fail:acct:" + limitKey(email), "block:acct:" + limitKey(email)} {
		if err := l.c.Reset(ctx, k); err != nil {
			return unavailable(err)
		}
	}
	return nil
}

func (l *limiter) rateLimited(resetAt time.Time) error {
	e := *ErrRateLimited
	e.RetryAfter = max(resetAt.Sub(l.now()), time.Second)
	return &e
}
