package verifier_test

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/verifier"
)

// signOutCount is how many sign-outs TestPropagation measures: 200 (50
// with -short), or GATEHOUSE_PROPAGATION_SIGNOUTS; docs/benchmarks.md
// reports the run with 1000.
func signOutCount(t *testing.T) int {
	if s := os.Getenv("GATEHOUSE_PROPAGATION_SIGNOUTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("GATEHOUSE_PROPAGATION_SIGNOUTS=%q: want a positive count", s)
		}
		return n
	}
	if testing.Short() {
		return 50
	}
	return 200
}

// TestPropagation: Gatehouse and two downstream services; every sign-out
// is refused by both services within 100 ms (p99). The time counts from
// just before the sign-out request is sent to the first Verify that
// refuses the token, so it includes the sign-out's own commit.
func TestPropagation(t *testing.T) {
	n := signOutCount(t)
	g, secret := newGatehouse(t, nil)
	services := []*downstream{startDownstream(t, g.url(), secret), startDownstream(t, g.url(), secret)}
	sessions := g.signIns(t, "many@example.com", n)
	for _, d := range services {
		if st, p := d.get(t, sessions[0].Access); st != http.StatusOK || p.UserID != 1 || p.SessionID == "" || p.AuthLevel != "password" {
			t.Fatalf("downstream GET with a live token = %d %+v; want 200 naming user 1, its session, password", st, p)
		}
	}

	var lat []time.Duration
	for _, s := range sessions {
		start := time.Now()
		if st := g.call(t, "DELETE", "/v1/auth/sign_out", s.Access, nil, nil); st != http.StatusOK {
			t.Fatalf("sign out: status %d", st)
		}
		for _, d := range services {
			waitFor(t, "sign-out reaching a downstream service", 5*time.Second, func() bool { return revoked(d.v, s.Access) })
			lat = append(lat, time.Since(start))
		}
	}
	slices.Sort(lat)
	p50, p99 := lat[len(lat)*50/100], lat[len(lat)*99/100]
	t.Logf("propagation over %d sign-outs × %d services: p50 %v, p99 %v, max %v", n, len(services), p50, p99, lat[len(lat)-1])
	if p99 > 100*time.Millisecond {
		t.Errorf("propagation p99 = %v; want at most 100ms", p99)
	}
	for _, d := range services {
		if st, _ := d.get(t, sessions[n-1].Access); st != http.StatusUnauthorized {
			t.Errorf("downstream GET with a signed-out token = %d; want 401", st)
		}
	}
}

// TestRefreshRetires: after two refreshes the first token is retired at
// once, the second stays valid for the grace, the third is current; a
// token from a rotation the stream has not delivered yet is not refused.
func TestRefreshRetires(t *testing.T) {
	g, secret := newGatehouse(t, nil)
	d := startDownstream(t, g.url(), secret)
	gens := g.signIns(t, "rotate@example.com", 1)
	for i := 0; i < 2; i++ {
		var next tokens
		if st := g.callRefresh(t, gens[i].Refresh, &next); st != http.StatusOK {
			t.Fatalf("refresh %d: status %d", i, st)
		}
		gens = append(gens, next)
	}
	waitFor(t, "the first token retired downstream", 5*time.Second, func() bool { return revoked(d.v, gens[0].Access) })
	for i, want := range []error{verifier.ErrRevoked, nil, nil} {
		if _, err := d.v.Verify(gens[i].Access); err != want {
			t.Errorf("Verify(generation %d token) = %v; want %v", i, err, want)
		}
	}
}

// TestGatehouseOutage: with Gatehouse stopped, the services keep serving
// live tokens until the silence bound, then refuse every token with 503;
// a revocation committed meanwhile (by the admin CLI on the database) is
// applied as soon as Gatehouse is back, resumed from each service's
// position without a gap.
func TestGatehouseOutage(t *testing.T) {
	g, secret := newGatehouse(t, nil)
	services := []*downstream{startDownstream(t, g.url(), secret), startDownstream(t, g.url(), secret)}
	sessions := g.signIns(t, "outage@example.com", 3)
	live, revokedDown, revokedBefore := sessions[0], sessions[1], sessions[2]
	g.call(t, "DELETE", "/v1/auth/sign_out", revokedBefore.Access, nil, nil)
	for _, d := range services {
		waitFor(t, "sign-out downstream", 5*time.Second, func() bool { return revoked(d.v, revokedBefore.Access) })
	}
	before := services[0].v.Position()

	g.stop()
	stopped := time.Now()
	for i, d := range services {
		if st, _ := d.get(t, live.Access); st != http.StatusOK && time.Since(stopped) < maxSilence {
			t.Errorf("service %d right after Gatehouse stopped: %d; want 200 until the %v bound", i, st, maxSilence)
		}
	}
	// While Gatehouse is down, an operator revokes a session on the
	// database (gatehouse sessions revoke).
	admin, store := newService(t, g.db, nil)
	claims := sessionOf(t, revokedDown.Access)
	if err := admin.RevokeSessionByID(t.Context(), claims); err != nil {
		t.Fatalf("RevokeSessionByID: %v", err)
	}
	store.Close()
	waitFor(t, "services failing closed", 3*maxSilence, func() bool {
		for _, d := range services {
			if st, _ := d.get(t, live.Access); st != http.StatusServiceUnavailable {
				return false
			}
		}
		return true
	})
	// The bound runs from the last heartbeat heard, up to one heartbeat
	// before the stop.
	if silent := time.Since(stopped); silent < maxSilence-heartbeat {
		t.Errorf("services refused %v after the stop; want them serving until %v after the last heartbeat", silent, maxSilence)
	}

	startGatehouse(t, g.db, g.addr, nil) // back where the services look for it
	for i, d := range services {
		waitFor(t, fmt.Sprintf("service %d back", i), 5*time.Second, d.v.Healthy)
		if st, _ := d.get(t, live.Access); st != http.StatusOK {
			t.Errorf("service %d, live token after Gatehouse is back: %d; want 200", i, st)
		}
		for name, tok := range map[string]string{"revoked during the outage": revokedDown.Access, "revoked before": revokedBefore.Access} {
			if st, _ := d.get(t, tok); st != http.StatusUnauthorized {
				t.Errorf("service %d, token %s: %d; want 401", i, name, st)
			}
		}
		if pos := d.v.Position(); pos != before+1 {
			t.Errorf("service %d position = %d; want %d, the one change after %d", i, pos, before+1, before)
		}
	}
}
