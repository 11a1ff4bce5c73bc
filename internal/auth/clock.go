package auth

import (
	"context"
	"fmt"
	"time"
)

// Which clock decides what (docs/architecture.md, "Time"): every decision
// that another node must agree with — a session's times, rotation, the
// refresh grace window, an access token's exp — is taken on the database's
// clock, which all nodes share. Each node measures its own clock's offset
// from the database's (SyncClock) and adds it to every reading, so two nodes
// whose clocks differ still agree on whether a retried refresh is within
// grace. A node whose clock is off by more than the bound keeps deciding on
// the corrected clock, but says so (log, metric, /readyz), because the
// correction is only as fresh as its last measurement and everything else
// on the host (logs, TLS, the rate-limit windows) still runs on the raw
// clock.

// SyncClock measures how far this node's clock is from the store's and
// corrects this node's readings by that much from now on. The store's
// reading is taken as the midpoint of the round trip. Call it at start-up
// and then periodically; a failed measurement keeps the last correction.
func (s *Service) SyncClock(ctx context.Context) error {
	before := s.localNow()
	db, err := s.store.Now(ctx)
	after := s.localNow()
	if err != nil {
		return fmt.Errorf("auth: read the database clock: %w", err)
	}
	// The reading could have been taken anywhere in the round trip, so a
	// slow one (a stalled connection) could misplace it by up to the whole
	// trip: keep the last correction rather than apply a worse one.
	if rtt := after.Sub(before); rtt > maxClockRTT {
		return fmt.Errorf("auth: database clock read took %v, more than %v: offset not updated", rtt, maxClockRTT)
	}
	off := db.Sub(before.Add(after.Sub(before) / 2))
	s.offset.Store(int64(off))
	s.onOffset(off)
	if beyond(off, s.maxSkew) {
		s.log.Error("clock is off from the database's by more than the bound; readiness fails until it is fixed",
			"offset", off, "max_clock_skew", s.maxSkew)
	}
	return nil
}

// ClockOffset is the last measured offset of the database's clock from
// this node's (positive: the database is ahead).
func (s *Service) ClockOffset() time.Duration { return time.Duration(s.offset.Load()) }

// ClockReady fails while this node's clock is off from the database's by
// more than the bound: the node should not take traffic until its clock is
// fixed.
func (s *Service) ClockReady() error {
	if off := s.ClockOffset(); beyond(off, s.maxSkew) {
		return unavailable(fmt.Errorf("auth: clock off from the database's by %v, more than --max-clock-skew %v", off, s.maxSkew))
	}
	return nil
}

// maxClockRTT is the slowest database clock reading SyncClock trusts.
const maxClockRTT = 250 * time.Millisecond

func beyond(off, bound time.Duration) bool { return off > bound || off < -bound }

// correctedNow is this node's clock plus the measured offset: the
// database's time, as well as this node knows it.
func (s *Service) correctedNow() time.Time {
	return s.localNow().Add(time.Duration(s.offset.Load()))
}
