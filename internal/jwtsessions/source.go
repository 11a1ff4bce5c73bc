package jwtsessions

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// refreshFields are the fields of a refresh record, in the order the gem's
// fetch_refresh reads them (REFRESH_KEYS).
var refreshFields = []string{"csrf", "access_uid", "access_expiration", "expiration"}

// scanCount is the COUNT hint of each SCAN: how many keys Redis looks at
// per call, and so how many records one pipelined HMGET round trip reads.
const scanCount = 2000

// Source reads the sessions of the gem's Redis store as auth.SessionRows,
// with SCAN (never KEYS, which would block a Redis that the Rails app may
// still be serving from). A record that changes or expires while the scan
// runs is read as it is when its turn comes; SCAN may return a key twice,
// which the import counts as already present.
type Source struct {
	ctx    context.Context
	client goredis.UniversalClient
	prefix string
	ns     Namespace
	cursor uint64
	done   bool
	rows   []auth.SessionRow
}

// NewSource reads the refresh records under prefix whose namespace is of
// the form ns.
func NewSource(ctx context.Context, client goredis.UniversalClient, prefix string, ns Namespace) *Source {
	return &Source{ctx: ctx, client: client, prefix: prefix, ns: ns}
}

// Next returns the next session, io.EOF after the last.
func (s *Source) Next() (auth.SessionRow, error) {
	for len(s.rows) == 0 {
		if s.done {
			return auth.SessionRow{}, io.EOF
		}
		if err := s.fill(); err != nil {
			return auth.SessionRow{}, err
		}
	}
	row := s.rows[0]
	s.rows = s.rows[1:]
	return row, nil
}

// fill reads the records of one SCAN step in one pipelined round trip.
func (s *Source) fill() error {
	keys, cursor, err := s.client.Scan(s.ctx, s.cursor, s.ns.refreshPattern(s.prefix), scanCount).Result()
	if err != nil {
		return fmt.Errorf("jwtsessions: scan: %w", err)
	}
	s.cursor, s.done = cursor, cursor == 0
	if len(keys) == 0 {
		return nil
	}
	pipe := s.client.Pipeline()
	cmds := make([]*goredis.SliceCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.HMGet(s.ctx, k, refreshFields...)
	}
	if _, err := pipe.Exec(s.ctx); err != nil && err != goredis.Nil {
		return fmt.Errorf("jwtsessions: read refresh records: %w", err)
	}
	for i, k := range keys {
		vals, err := cmds[i].Result()
		if err != nil {
			return fmt.Errorf("jwtsessions: read %s: %w", k, err)
		}
		if row, ok := s.row(k, vals); ok {
			s.rows = append(s.rows, row)
		}
	}
	return nil
}

// row reads one refresh record; false if it expired between SCAN and
// HMGET (every field nil).
func (s *Source) row(key string, vals []any) (auth.SessionRow, bool) {
	row := auth.SessionRow{Key: key}
	var f [4]string
	missing := 0
	for i, v := range vals {
		str, ok := v.(string)
		if !ok {
			missing++
			continue
		}
		f[i] = str
	}
	switch {
	case missing == len(refreshFields):
		return row, false
	case missing > 0:
		// The gem's fetch_refresh reads such a hash as no session at all.
		row.Bad = "refresh record lacks one of " + strings.Join(refreshFields, ", ")
		return row, true
	}
	row.Bad = s.parse(key, f, &row.Session)
	return row, true
}

// parse fills sess from the key and the fields csrf, access_uid,
// access_expiration, expiration, or says what is wrong.
func (s *Source) parse(key string, f [4]string, sess *auth.Session) string {
	rest := strings.TrimPrefix(key, s.prefix+"_")
	i := strings.LastIndex(rest, refreshMarker)
	if i < 0 {
		return "not a refresh record key"
	}
	ns, ruid := rest[:i], rest[i+len(refreshMarker):]
	idText, ok := s.ns.userID(ns)
	if !ok {
		return fmt.Sprintf("namespace %q does not name a user", ns)
	}
	userID, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || strconv.FormatInt(userID, 10) != idText {
		return fmt.Sprintf("namespace %q does not name a user id", ns)
	}
	secret, err := decodeCSRF(f[0])
	if err != nil {
		return err.Error()
	}
	if f[1] == "" {
		// flush_namespaced_access_tokens unlinks the access token this way.
		return "no current access token (its access tokens were flushed)"
	}
	accessExp, err := unixField("access_expiration", f[2])
	if err != nil {
		return err.Error()
	}
	exp, err := unixField("expiration", f[3])
	if err != nil {
		return err.Error()
	}
	*sess = auth.Session{ID: ruid, UserID: userID, AccessExpiresAt: accessExp, ExpiresAt: exp,
		Imported: &auth.ImportedSecrets{AccessID: f[1], CSRFSecret: secret}}
	return ""
}

// unixField reads an integer Unix time as the gem stores it (Time#to_i).
func unixField(name, v string) (time.Time, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, fmt.Errorf("%s %q is not a Unix time", name, v)
	}
	return time.Unix(n, 0).UTC(), nil
}
