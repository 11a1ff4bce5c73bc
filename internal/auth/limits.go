package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
)

// Limits are the abuse defences, on by default.
//
// Per client address, each of sign-in, password change, registration and
// refresh has a budget per minute. Every attempt to verify a password is
// admitted before it is hashed, and counted as a failure at admission (a
// success gives it back), on back-off keys that double the wait past a
// free budget:
//
//   - From a device that has signed in to the account before (a valid
//     device token, see device.go), the attempt is judged by that device's
//     own budget alone, so attacks from elsewhere never block the owner.
//   - Otherwise on two keys: (account, address), which trips early and
//     only stops that address, and the account alone, which trips later
//     and stops every unknown device, so that guessing from many
//     addresses is slowed too.
//
// Failures never lock an account nor end its sessions: locking is an
// administrator's decision (gatehouse users lock). At most SlotsPerPair
// verifications of one (account, address) and SlotsPerAccount of one
// account are in flight at once.
//
// Keys are derived from the normalized email, not the user id, so unknown
// emails back off exactly like known ones and a 429 does not reveal
// whether an account exists.
type Limits struct {
	SignInPerIP   int // per minute, also for password changes
	RegisterPerIP int // per minute
	RefreshPerIP  int // per minute
	// PairFreeFailures failures from one address (or one known device) on
	// one account are free; each further one doubles that pair's wait,
	// from 1 s up to PairMaxDelay.
	PairFreeFailures int
	PairMaxDelay     time.Duration
	// AccountFreeFailures failures on an account from unknown devices
	// anywhere are free; then the same doubling applies account-wide, up
	// to AccountMaxDelay, for every unknown device.
	AccountFreeFailures int
	AccountMaxDelay     time.Duration
	// FactorPerSession checks of a second factor (or re-authentications)
	// are allowed per session in each window of the pending-sign-in
	// lifetime: a pending sign-in gets that many guesses in all. Past
	// FactorFreeFailures failures on one account, from any sessions, the
	// doubling back-off applies to the account's second factors, up to
	// AccountMaxDelay: signing in again (the attacker knows the password)
	// gives fresh sessions but not fresh guesses.
	FactorPerSession   int
	FactorFreeFailures int
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
		FactorPerSession:    5,
		FactorFreeFailures:  10,
	}
}

const (
	ipWindow      = time.Minute
	failureMemory = 30 * 24 * time.Hour // "consecutive" failures are forgotten after a month of quiet
	// SlotsPerPair and SlotsPerAccount cap verifications in flight: a
	// burst is refused at admission instead of queueing for hash slots.
	SlotsPerPair    = 2
	SlotsPerAccount = 4
	// slotTTL frees the slots of a node that died mid-hash; a hash takes
	// well under a second, a queued one at most the hash limiter's wait.
	slotTTL = time.Minute
)

// limiter applies Limits over a Counter. A nil *limiter allows everything
// (--rate-limit=false).
type limiter struct {
	Limits
	c Counter
	// factorWindow is the window of FactorPerSession: the pending-sign-in
	// lifetime.
	factorWindow time.Duration
}

func limitKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s|", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// accountBackoff is the key of an account's back-off for unknown
// devices. Back-off keys start "backoff:", not the "fail:" of the counts
// before Admit: on Redis a leftover count under the same name is a string,
// not the hash the script keeps, and would fail every admission
// (WRONGTYPE) until it expired.
func accountBackoff(email string) string { return "backoff:acct:" + limitKey(email) }

func (l *limiter) rate(action, addr string) Rate {
	perMinute := l.RefreshPerIP
	switch action {
	case "sign_in", "password", "factor":
		perMinute = l.SignInPerIP
	case "register":
		perMinute = l.RegisterPerIP
	}
	return Rate{Key: "ip:" + action + ":" + addr, Limit: int64(perMinute), Window: ipWindow}
}

// allowIP takes one request of action from addr's budget: one round trip.
func (l *limiter) allowIP(ctx context.Context, action, addr string) error {
	if l == nil {
		return nil
	}
	return l.admit(ctx, Admission{Rates: []Rate{l.rate(action, addr)}})
}

func (l *limiter) admit(ctx context.Context, a Admission) error {
	d, err := l.c.Admit(ctx, a)
	if err != nil {
		return unavailable(err)
	}
	if !d.Admitted {
		return rateLimited(d.RetryAfter)
	}
	return nil
}

// ticket is an admitted password verification, to be settled once.
type ticket struct {
	l      *limiter
	clear  []string // what a success clears
	slots  []string
	holder string
}

// admitVerify admits one password verification of action ("sign_in" or
// "password") for email from c, before any hashing; device is c's device
// token if it is valid for this account.
func (l *limiter) admitVerify(ctx context.Context, action, email string, c Client, device *deviceToken) (*ticket, error) {
	if l == nil {
		return nil, nil
	}
	addr := c.limitAddr()
	pair, acct := limitKey(email, addr), limitKey(email)
	a := Admission{
		Slots:   []Slot{{Key: "slot:pair:" + pair, Max: SlotsPerPair}, {Key: "slot:acct:" + acct, Max: SlotsPerAccount}},
		Holder:  rand.Text(),
		SlotTTL: slotTTL,
		Rates:   []Rate{l.rate(action, addr)},
	}
	if device != nil {
		a.Backoffs = []Backoff{{Key: "backoff:device:" + device.id(), Free: int64(l.PairFreeFailures), MaxDelay: l.PairMaxDelay, Memory: failureMemory, Device: true}}
	} else {
		a.Backoffs = []Backoff{
			{Key: "backoff:pair:" + pair, Free: int64(l.PairFreeFailures), MaxDelay: l.PairMaxDelay, Memory: failureMemory},
			{Key: accountBackoff(email), Free: int64(l.AccountFreeFailures), MaxDelay: l.AccountMaxDelay, Memory: failureMemory},
		}
	}
	// A success gives back what the attempt was judged on. From a known
	// device that is the device's budget only: the owner's routine
	// sign-ins must not refund an attacker's account-wide budget.
	return l.admitTicket(ctx, a)
}

// admitTicket admits a and returns the ticket that settles it: its slots
// to free, and its back-offs to clear on success.
func (l *limiter) admitTicket(ctx context.Context, a Admission) (*ticket, error) {
	if err := l.admit(ctx, a); err != nil {
		return nil, err
	}
	t := &ticket{l: l, holder: a.Holder}
	for _, s := range a.Slots {
		t.slots = append(t.slots, s.Key)
	}
	for _, b := range a.Backoffs {
		t.clear = append(t.clear, b.Key)
	}
	return t, nil
}

// admitFactor admits one check of a second factor, or a password
// re-authentication, by session sessionID of userID from c, before the
// check runs. Without a session (a passkey sign-in, where the assertion
// names the user) only the address's budget applies.
func (l *limiter) admitFactor(ctx context.Context, userID int64, sessionID string, c Client) (*ticket, error) {
	if l == nil {
		return nil, nil
	}
	a := Admission{Holder: rand.Text(), SlotTTL: slotTTL, Rates: []Rate{l.rate("factor", c.limitAddr())}}
	if sessionID != "" {
		user := strconv.FormatInt(userID, 10)
		a.Rates = append(a.Rates, Rate{Key: "factor:session:" + limitKey(sessionID), Limit: int64(l.FactorPerSession), Window: l.factorWindow})
		a.Backoffs = []Backoff{{Key: "backoff:factor:" + limitKey(user), Free: int64(l.FactorFreeFailures), MaxDelay: l.AccountMaxDelay, Memory: failureMemory}}
		a.Slots = []Slot{{Key: "slot:factor:" + limitKey(user), Max: SlotsPerAccount}}
	}
	return l.admitTicket(ctx, a)
}

// settle ends an admitted verification: the slots are freed and, on
// success, the failure it was counted as is forgotten. A nil ticket (no
// limits) settles nothing.
func (t *ticket) settle(ctx context.Context, ok bool) error {
	if t == nil {
		return nil
	}
	s := Settlement{Release: t.slots, Holder: t.holder}
	if ok {
		s.Clear = t.clear
	}
	// Settle even if the request was cancelled: a slot left held blocks
	// the account's next sign-ins until it expires.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	if err := t.l.c.Settle(ctx, s); err != nil {
		return unavailable(err)
	}
	return nil
}

// unlocked forgets an account's failures when an administrator unlocks
// it: the account-wide back-off and that of the address the
// administrator's CLI has none of, so only the account key.
func (l *limiter) unlocked(ctx context.Context, email string) error {
	if l == nil {
		return nil
	}
	if err := l.c.Settle(ctx, Settlement{Clear: []string{accountBackoff(email)}}); err != nil {
		return unavailable(err)
	}
	return nil
}

func rateLimited(retryAfter time.Duration) error {
	e := *ErrRateLimited
	e.RetryAfter = max(retryAfter, time.Second)
	return &e
}
