package authtest

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// The jwt_sessions gem's side of a cutover, for tests: its Redis records,
// written command for command as the gem writes them, and its access
// tokens, signed as it signs them. Sources, in tuwukee/jwt_sessions:
// lib/jwt_sessions/store_adapters/redis_store_adapter.rb (persist_access:
// SET then EXPIREAT; persist_refresh: HMSET csrf, access_expiration,
// access_uid, then HSET expiration, then EXPIREAT; keys
// "#{prefix}_access_#{uid}" and "#{prefix}_#{namespace}_refresh_#{uid}"),
// csrf_token.rb (the stored secret is SecureRandom.base64(32)),
// access_token.rb and session.rb (claims uid, exp and, with
// refresh_by_access_allowed, ruid), token.rb (JWT.encode with the raw key).
// The claim order exp, user_id, uid, ruid and the header {"alg":"HS256"} are
// those of the Rails API's tokens in the seed (auth-api.apib).

// GemRedis is a Redis the test writes gem records to, under a key prefix
// of its own that is deleted when the test ends.
type GemRedis struct {
	Client *goredis.Client
	Prefix string // the gem's token_prefix
}

// NewGemRedis connects to GATEHOUSE_TEST_REDIS_URL (skipping without it)
// and picks a fresh prefix.
func NewGemRedis(t *testing.T) *GemRedis {
	t.Helper()
	opt, err := goredis.ParseURL(RequireService(t, "GATEHOUSE_TEST_REDIS_URL"))
	if err != nil {
		t.Fatalf("GATEHOUSE_TEST_REDIS_URL: %v", err)
	}
	client := goredis.NewClient(opt)
	g := &GemRedis{Client: client, Prefix: "jwt" + rand.Text()[:10]}
	t.Cleanup(func() {
		ctx := context.Background()
		iter := client.Scan(ctx, 0, g.Prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
		client.Close()
	})
	return g
}

// NewCSRF returns a CSRF secret as the gem makes and stores it, and its
// bytes.
func NewCSRF() (encoded string, raw []byte) {
	raw = make([]byte, 32)
	rand.Read(raw)
	return base64.StdEncoding.EncodeToString(raw), raw
}

// PersistAccess writes an access record as persist_access does.
func (g *GemRedis) PersistAccess(t *testing.T, uid, csrf string, exp int64) {
	t.Helper()
	ctx := t.Context()
	key := g.Prefix + "_access_" + uid
	if err := g.Client.Set(ctx, key, csrf, 0).Err(); err != nil {
		t.Fatalf("SET %s: %v", key, err)
	}
	if err := g.Client.ExpireAt(ctx, key, time.Unix(exp, 0)).Err(); err != nil {
		t.Fatalf("EXPIREAT %s: %v", key, err)
	}
}

// PersistRefresh writes a refresh record as persist_refresh does.
func (g *GemRedis) PersistRefresh(t *testing.T, namespace, ruid string, accessExp int64, accessUID, csrf string, exp int64) {
	t.Helper()
	ctx := t.Context()
	key := g.Prefix + "_" + namespace + "_refresh_" + ruid
	err := g.Client.Do(ctx, "HMSET", key, "csrf", csrf, "access_expiration", strconv.FormatInt(accessExp, 10), "access_uid", accessUID).Err()
	if err != nil {
		t.Fatalf("HMSET %s: %v", key, err)
	}
	if err := g.Client.HSet(ctx, key, "expiration", strconv.FormatInt(exp, 10)).Err(); err != nil {
		t.Fatalf("HSET %s: %v", key, err)
	}
	if err := g.Client.ExpireAt(ctx, key, time.Unix(exp, 0)).Err(); err != nil {
		t.Fatalf("EXPIREAT %s: %v", key, err)
	}
}

// GemSession is one sign-in on the Rails app, as its store and its client
// hold it.
type GemSession struct {
	UserID      int64
	RUID, UID   string
	CSRF        string // as stored (base64 of the secret)
	AccessToken string
	AccessExp   int64
	Exp         int64 // the refresh record's expiration
}

// Login does in Redis what the gem's Session#login does for userID (with
// refresh_by_access_allowed and namespace "user_<id>"): an access record,
// a refresh record, and the access token signed with key.
func (g *GemRedis) Login(t *testing.T, key []byte, userID int64, now time.Time, accessTTL, refreshTTL time.Duration) GemSession {
	t.Helper()
	csrf, _ := NewCSRF()
	s := GemSession{UserID: userID, RUID: newSessionID(), UID: newSessionID(), CSRF: csrf,
		AccessExp: now.Add(accessTTL).Unix(), Exp: now.Add(refreshTTL).Unix()}
	g.PersistAccess(t, s.UID, csrf, s.AccessExp)
	g.PersistRefresh(t, fmt.Sprintf("user_%d", userID), s.RUID, s.AccessExp, s.UID, csrf, s.Exp)
	s.AccessToken = GemAccessToken(key, s.AccessExp, userID, s.UID, s.RUID)
	return s
}

// GemAccessToken signs an access token as the gem does: header
// {"alg":"HS256"}, claims exp, user_id, uid, ruid, HMAC-SHA256 with the raw
// key.
func GemAccessToken(key []byte, exp, userID int64, uid, ruid string) string {
	enc := base64.RawURLEncoding
	input := enc.EncodeToString([]byte(`{"alg":"HS256"}`)) + "." +
		enc.EncodeToString(fmt.Appendf(nil, `{"exp":%d,"user_id":%d,"uid":%q,"ruid":%q}`, exp, userID, uid, ruid))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(input))
	return input + "." + enc.EncodeToString(mac.Sum(nil))
}
