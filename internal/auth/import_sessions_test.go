package auth_test

import (
	"io"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// sessionRows is an in-memory auth.SessionRows.
type sessionRows []auth.SessionRow

func (r *sessionRows) Next() (auth.SessionRow, error) {
	if len(*r) == 0 {
		return auth.SessionRow{}, io.EOF
	}
	row := (*r)[0]
	*r = (*r)[1:]
	return row, nil
}

// TestImportSessions: what the import keeps and fills in, what it refuses
// and why (the tokens are driven through the API in httpapi's
// TestRailsSessions_*, which need Redis).
func TestImportSessions(t *testing.T) {
	e := newEnv(t)
	g := e.register(t, "ada@example.com")
	now := e.clock.Now()
	row := func(key, id, uid string, user int64, csrf []byte, accessExp, exp time.Time) auth.SessionRow {
		return auth.SessionRow{Key: key, Session: auth.Session{ID: id, UserID: user, AccessExpiresAt: accessExp, ExpiresAt: exp, Generation: 9,
			Imported: &auth.ImportedSecrets{AccessID: uid, CSRFSecret: csrf}}}
	}
	secret := make([]byte, 32)
	rows := sessionRows{
		row("live", "7c5e150b-6445-495e-bd89-d4d442ff813a", "c8edb87c-c114-4284-ad8d-7d7b619130d2", g.UserID, secret, now.Add(time.Hour), now.Add(30*time.Minute)),
		row("unknown", "d0cd7c6b-072e-4177-8341-a5caf1bc40ca", "u", g.UserID+1, secret, now.Add(time.Hour), now.Add(time.Hour)),
		row("expired", "df042938-283d-4666-81e3-191f86493d8d", "u", g.UserID, secret, now, now),
		row("short-csrf", "a1", "u", g.UserID, secret[:16], now, now.Add(time.Hour)),
		row("no-uid", "a2", "", g.UserID, secret, now, now.Add(time.Hour)),
		row("bad-user", "a3", "u", 0, secret, now, now.Add(time.Hour)),
		{Key: "unreadable", Bad: "refresh record lacks one of csrf"},
	}
	rep, err := e.svc.ImportSessions(t.Context(), &rows, auth.SessionImportOptions{})
	if err != nil || rep.Imported != 1 || rep.UnknownUser != 1 || rep.Expired != 1 || rep.Malformed != 4 || len(rep.Problems) != 5 {
		t.Fatalf("ImportSessions = %+v, %v; want 1 imported, 1 unknown user, 1 expired, 4 malformed, 5 problems", rep, err)
	}
	sess, err := e.store.Session(t.Context(), "7c5e150b-6445-495e-bd89-d4d442ff813a")
	if err != nil {
		t.Fatal(err)
	}
	// Generation 0 whatever the source said; the access token capped at
	// the session's end, which the gem does not do.
	if sess.Generation != 0 || !sess.AccessExpiresAt.Equal(sess.ExpiresAt) || !sess.CreatedAt.Equal(now) {
		t.Errorf("imported session = %+v, want generation 0, access expiry = end %v, created now", sess, sess.ExpiresAt)
	}
}
