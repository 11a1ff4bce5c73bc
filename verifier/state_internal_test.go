package verifier

import (
	"testing"
	"time"
)

// TestAccepts: the verifier accepts exactly what Gatehouse's Authenticate
// accepts for a session the stream reported.
func TestAccepts(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	exp := now.Add(time.Hour).Unix()
	rs := revocations{m: map[string]*session{
		"revoked": {revoked: true, exp: exp},
		"rotated": {uid: "cur", prevUID: "prev", prevUntil: now.Add(time.Second), exp: exp},
		"settled": {uid: "cur", prevUID: "prev", prevUntil: now, exp: exp},
	}}
	for _, tc := range []struct {
		name, sid, uid string
		exp            int64
		want           bool
	}{
		{"UnknownSession", "other", "any", exp, true},
		{"Revoked", "revoked", "any", exp, false},
		{"RevokedNewerToken", "revoked", "any", exp + 60, false},
		{"Current", "rotated", "cur", exp, true},
		{"PreviousInGrace", "rotated", "prev", exp - 60, true},
		{"PreviousAfterGrace", "settled", "prev", exp - 60, false},
		{"Older", "rotated", "older", exp - 120, false},
		{"SameExpUnknownUID", "rotated", "forged", exp, false},
		{"NewerRotationOnItsWay", "rotated", "next", exp + 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := rs.accepts(tc.sid, tc.uid, tc.exp, now); got != tc.want {
				t.Errorf("accepts(%q, %q, exp %+d) = %t, want %t", tc.sid, tc.uid, tc.exp-exp, got, tc.want)
			}
		})
	}

	rs.forget(now.Add(time.Hour + time.Second))
	if len(rs.m) != 0 {
		t.Errorf("forget after every exp kept %d sessions", len(rs.m))
	}
}
