package password

import (
	"context"
	"crypto/rand"
	"strings"
	"sync"
	"time"
)

// maxFailureFloor caps the floor. The slowest hash an import admits
// (bcrypt cost 14) verifies in about a second; a floor far above that can
// only come from a verification slowed by something else (a stalled
// machine), which must not hold every failed sign-in for long.
const maxFailureFloor = 2 * time.Second

// pace learns how long each cost class of stored hash takes to verify, so
// that every failed sign-in can be answered no sooner than the slowest
// class takes (FailureFloor). Without it the answer's time tells the kind
// of hash an account has, and so that it exists: an imported bcrypt cost-12
// account took ~255 ms to refuse a wrong password, an unknown email ~35 ms.
//
// Each class keeps an envelope of its verification times: it rises at once
// to a slower verification and sinks by 1/16 of the gap on each faster
// one, so it sits near the top of the class's spread and a single stall
// fades instead of slowing every failure for good.
type pace struct {
	mu      sync.Mutex
	classes map[string]time.Duration
	floor   time.Duration
}

func (p *pace) observe(encoded string, d time.Duration) {
	class := CostClass(encoded)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.classes == nil {
		p.classes = make(map[string]time.Duration)
	}
	est, seen := p.classes[class]
	if !seen || d > est {
		est = d
	} else {
		est -= (est - d) / 16
	}
	p.classes[class] = est
	p.floor = 0
	for _, e := range p.classes {
		p.floor = max(p.floor, e)
	}
	p.floor = min(p.floor, maxFailureFloor)
}

// CostClass names what decides a hash's verification time: bcrypt's cost,
// argon2id's parameters ("$2$12", "$argon2id$m=19456,t=2,p=1"). Anything
// else is one class: Verify refuses it at once. Calibrate's callers pick
// one sample hash per class.
func CostClass(encoded string) string {
	if isBcrypt(encoded) && len(encoded) >= 6 {
		return "$2$" + encoded[4:6]
	}
	if rest, ok := strings.CutPrefix(encoded, "$argon2id$v=19$"); ok {
		cost, _, _ := strings.Cut(rest, "$")
		return "$argon2id$" + cost
	}
	return "malformed"
}

// FailureFloor is how long a failed sign-in should take at least, from the
// start of its verification: as long as the slowest class of hash verified
// so far (see Calibrate), at most 2 s.
func (h *Hasher) FailureFloor() time.Duration {
	h.pace.mu.Lock()
	defer h.pace.mu.Unlock()
	return h.pace.floor
}

// HoldFailure returns once FailureFloor has passed since start, or ctx
// ends. A sign-in that failed calls it, outside its hash slot, before it
// answers: the wait is a timer, not work, so padding costs no CPU and no
// slot (docs/security.md weighs this against doing equal work).
func (h *Hasher) HoldFailure(ctx context.Context, start time.Time) {
	wait := time.Until(start.Add(h.FailureFloor()))
	if wait <= 0 {
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// Calibrate verifies a random password against each of samples (one hash
// per cost class the store holds), so that the floor covers those classes
// before the first sign-in of such an account fails. Without it the first
// failure of each slower class would still show.
func (h *Hasher) Calibrate(samples []string) {
	for _, s := range samples {
		_, _ = h.Verify(rand.Text(), s)
	}
}
