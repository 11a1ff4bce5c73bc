package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/httpapi"
)

// Flag registration: the rule. Every setting of Config is one line in
// (*Config).register: its groups, flag name, default, help and parser. A
// command takes the groups it needs (the group* constants) and then accepts
// exactly those flags, reads exactly their GATEHOUSE_* variables
// (GATEHOUSE_ + the name upper-cased, "-" as "_") and lists both in its -h.
// Adding a setting is a field, one register line naming its groups, and a
// row in docs/config.md (TestConfigDocsMatchFlags fails without it). A flag
// outside a command's groups keeps its default there. A command that needs
// a new kind of setting gets a new group rather than a hand-copied flag. A
// variable read by name outside Config belongs in otherEnv (flags.go), or
// the unknown-variable warning names it.
type flagGroup uint

const (
	groupStore     flagGroup = 1 << iota // every command that opens the database
	groupLog                             // every command that logs
	groupSecret                          // commands that read the root secret
	groupCounters                        // commands that wire the service and its counters (unlock clears them)
	groupPasswords                       // commands that hash a new password
	groupLifetimes                       // token and session lifetimes (keys remove waits them out)
	groupServer                          // only a serving node

	groupAll = groupServer<<1 - 1
	// groupAdmin is what users and sessions commands take, groupKeys
	// what keys commands take.
	groupAdmin = groupStore | groupLog | groupSecret | groupCounters
	groupKeys  = groupStore | groupLog | groupSecret
)

// Config is every setting of the service, from flags and GATEHOUSE_*
// environment variables (flags win).
type Config struct {
	Addr              string
	DB                string
	Redis             string
	Secret            string
	SecretFile        string
	TokenAlg          string
	AccessTTL         time.Duration
	SessionTTL        time.Duration
	RefreshGrace      time.Duration
	CookieSecure      bool
	CookieHostPrefix  bool
	RateLimit         bool
	PasswordMinLength int
	CookieSameSite    http.SameSite
	CORSOrigins       []string
	CORSHeaders       []string
	TrustedProxies    []netip.Prefix
	IPv6Prefix        int
	MetricsAddr       string
	HashSlots         int
	HashWait          time.Duration
	HashQueue         int
	SessionCacheSize  int
	LogLevel          slog.Level
	LogFormat         string
	ShutdownTimeout   time.Duration
	Mail              MailConfig
	Passkeys          PasskeyConfig
	ShutdownDrain     time.Duration
	MaxClockSkew      time.Duration
	SQLiteMinFreeMiB  int
	MFAPendingTTL     time.Duration
	StepUpMaxAge      time.Duration
	JWTSessionsRedis  string
	JWTSessionsPrefix string
	// issuesNoTokens marks the one-shot admin commands' app (set by
	// openApp, never by a flag): see appKeys.
	issuesNoTokens bool
}

// minSecretBytes is the least key size for HS256 (RFC 7518 §3.2).
const minSecretBytes = 32

// register puts the flags of groups on fs and every default into c.
func (c *Config) register(fs *flag.FlagSet, groups flagGroup) {
	r := registrar{fs: fs, groups: groups}
	r.add(groupServer, "addr", "localhost:3000", "listen address, host:port (:port for every interface)", hostPortVar(&c.Addr, false))
	r.add(groupStore, "db", "sqlite:gatehouse.db", "database: sqlite:PATH or a postgres:// URL", stringVar(&c.DB))
	r.add(groupCounters, "redis", "", "optional redis:// URL for rate-limit and back-off counters shared by all nodes", stringVar(&c.Redis))
	r.add(groupSecret, "secret", "", "root secret, at least 32 bytes: derives session secrets and is the seed's HS256 key (default: --secret-file)", stringVar(&c.Secret))
	r.add(groupSecret, "secret-file", "", "file holding the root secret (its bytes exactly); default on SQLite: the database path + .key, created owner-only if missing", stringVar(&c.SecretFile))
	r.add(groupServer, "token-alg", "HS256", "access-token signature: HS256 (the seed's format), EdDSA or ES256 (with kid, public keys at /.well-known/jwks.json)", choiceVar(&c.TokenAlg, "HS256", "EdDSA", "ES256"))
	r.add(groupLifetimes, "access-ttl", "1h", "access token lifetime", durationVar(&c.AccessTTL))
	r.add(groupLifetimes, "session-ttl", "168h", "session lifetime (not extended by refreshing)", durationVar(&c.SessionTTL))
	r.add(groupServer, "refresh-grace", "10s", "how long a just-replaced token still refreshes to the same result", durationVar(&c.RefreshGrace))
	r.add(groupServer, "cookie-secure", "true", "mark the access cookie Secure (false only for plain-HTTP development)", boolVar(&c.CookieSecure))
	r.add(groupServer, "cookie-host-prefix", "false", "name the cookie __Host-jwt_access (requires --cookie-secure)", boolVar(&c.CookieHostPrefix))
	r.add(groupServer, "cookie-samesite", "lax", "SameSite of the access cookie: lax, strict or none (none, for an SPA on another site, requires --cookie-secure)", parsedVar(&c.CookieSameSite, "mode", parseSameSite))
	r.add(groupCounters, "rate-limit", "true", "rate limits and per-account back-off (false for benchmarks and tests)", boolVar(&c.RateLimit))
	r.add(groupPasswords, "password-min-length", "8", "minimum password length in characters", intVar(&c.PasswordMinLength))
	r.add(groupServer, "cors-origins", "", "comma-separated exact origins allowed to call with credentials", parsedVar(&c.CORSOrigins, "origins", parseOrigins))
	r.add(groupServer, "cors-headers", "", "comma-separated request headers allowed from --cors-origins besides the default "+strings.Join(httpapi.DefaultCORSHeaders(), ", "), parsedVar(&c.CORSHeaders, "headers", parseHeaderNames))
	r.add(groupServer, "trusted-proxies", "", "comma-separated CIDRs whose X-Forwarded-For is believed", parsedVar(&c.TrustedProxies, "CIDRs", parsePrefixes))
	r.add(groupServer, "ipv6-prefix", "64", "prefix length that groups IPv6 clients for rate limits and back-off (one subscriber holds a /64)", intVar(&c.IPv6Prefix))
	r.add(groupServer, "metrics-addr", "", "listen address for GET /metrics, e.g. 127.0.0.1:9464 (default: no metrics); never the API's", hostPortVar(&c.MetricsAddr, true))
	r.add(groupServer, "hash-slots", "0", "password hashes in flight at most (0: GOMAXPROCS)", intVar(&c.HashSlots))
	r.add(groupServer, "hash-wait", "1s", "how long a sign-in waits for a hash slot before 503", durationVar(&c.HashWait))
	r.add(groupServer, "session-cache-size", "100000", "sessions a node keeps in memory to verify tokens without the database (about 560 bytes each; more are read from the database when next used)", intVar(&c.SessionCacheSize))
	r.add(groupServer, "hash-queue", "0", "sign-ins that may wait for a hash slot at once; more get 503 at once (0: 32 x hash slots)", intVar(&c.HashQueue))
	r.add(groupLog, "log-level", "info", "debug, info, warn or error (debug logs every request)", parsedVar(&c.LogLevel, "level", parseLevel))
	r.add(groupLog, "log-format", "json", "json or text, to stderr", choiceVar(&c.LogFormat, "json", "text"))
	r.add(groupServer, "shutdown-timeout", "15s", "how long to drain requests on SIGTERM", durationVar(&c.ShutdownTimeout))
	r.add(groupServer, "shutdown-drain", "1s", "on SIGTERM, how long to keep answering new requests with 503 and Retry-After before refusing connections", durationVar(&c.ShutdownDrain))
	r.add(groupServer, "max-clock-skew", "30s", "how far this node's clock may be from the database's; beyond it /readyz fails", durationVar(&c.MaxClockSkew))
	r.add(groupServer, "sqlite-min-free-mib", "64", "free space (MiB) the SQLite database's file system must keep; below it /readyz fails", intVar(&c.SQLiteMinFreeMiB))
	r.add(groupServer, "mfa-pending-ttl", "5m", "how long a password sign-in of a user with a second factor waits for that factor", durationVar(&c.MFAPendingTTL))
	r.add(groupServer, "step-up-max-age", "10m", "how recent a session's last proof of its user must be for a dangerous change (new password, address, factor)", durationVar(&c.StepUpMaxAge))
	r.add(groupServer, "jwt-sessions-redis", "", "temporary, for a move from Rails: redis:// URL of the jwt_sessions store to keep Gatehouse's access tokens in (default: off)", stringVar(&c.JWTSessionsRedis))
	r.add(groupServer, "jwt-sessions-prefix", "jwt_", "the gem's token_prefix in --jwt-sessions-redis", stringVar(&c.JWTSessionsPrefix))
	c.Mail.register(r)
	c.Passkeys.register(r)
}

// parseConfig reads every setting (all groups) from args and the
// environment: serve's command line; -h prints serve's help to w.
func parseConfig(name string, args []string, getenv func(string) string, w io.Writer) (*Config, error) {
	return parseGroups(name, groupAll, serveUsage, args, getenv, w)
}

// parseGroups reads the settings of groups from the GATEHOUSE_* variables,
// then from args (flags win), and checks them. -h prints header and the
// flags to w and returns flag.ErrHelp.
func parseGroups(name string, groups flagGroup, header string, args []string, getenv func(string) string, w io.Writer) (*Config, error) {
	c := &Config{}
	fs := newFlagSet(name)
	c.register(fs, groups)
	if err := setFromEnv(fs, getenv); err != nil {
		return nil, err
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(w, fs, header)
			return nil, err
		}
		return nil, usagef("%s: %v", name, err)
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected argument %q", fs.Arg(0))
	}
	return c, c.validate()
}

func (c *Config) validate() error {
	switch {
	case c.Secret != "" && len(c.Secret) < minSecretBytes:
		return usagef("--secret must be at least %d bytes, got %d", minSecretBytes, len(c.Secret))
	case c.Secret != "" && c.SecretFile != "":
		return usagef("--secret and --secret-file are two ways to give one secret: give one")
	case c.AccessTTL < time.Second || c.SessionTTL < time.Second:
		return usagef("--access-ttl and --session-ttl must be at least 1s")
	case c.MFAPendingTTL < time.Second || c.StepUpMaxAge < time.Second:
		return usagef("--mfa-pending-ttl and --step-up-max-age must be at least 1s")
	case c.RefreshGrace < 0:
		return usagef("--refresh-grace must not be negative")
	case c.PasswordMinLength < 1 || c.PasswordMinLength > 256:
		return usagef("--password-min-length must be between 1 and 256")
	case c.MaxClockSkew < time.Second:
		return usagef("--max-clock-skew must be at least 1s")
	case c.ShutdownDrain < 0 || c.SQLiteMinFreeMiB < 0:
		return usagef("--shutdown-drain and --sqlite-min-free-mib must not be negative")
	case c.HashSlots < 0 || c.HashQueue < 0:
		return usagef("--hash-slots and --hash-queue must not be negative")
	case c.SessionCacheSize < 1:
		return usagef("--session-cache-size must be at least 1")
	case c.CookieHostPrefix && !c.CookieSecure:
		return usagef("--cookie-host-prefix needs --cookie-secure")
	case c.CookieSameSite == http.SameSiteNoneMode && !c.CookieSecure:
		// Browsers drop a SameSite=None cookie that is not Secure, so every
		// sign-in would look successful and every next call get a 401.
		return usagef("--cookie-samesite none needs --cookie-secure")
	case c.IPv6Prefix < 32 || c.IPv6Prefix > 128:
		return usagef("--ipv6-prefix must be between 32 and 128, got %d", c.IPv6Prefix)
	case c.MetricsAddr != "" && c.MetricsAddr == c.Addr && !strings.HasSuffix(c.Addr, ":0"):
		return usagef("--metrics-addr must differ from --addr: metrics are never served on the API's listener")
	}
	if err := c.Mail.validate(); err != nil {
		return err
	}
	_, _, err := c.Passkeys.relyingParty(c.Mail.PublicURL)
	return err
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parseOrigins(s string) ([]string, error) {
	origins := splitList(s)
	for _, o := range origins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" {
			return nil, fmt.Errorf("%q is not an origin: want origins like https://app.example.com", o)
		}
	}
	return origins, nil
}

func parseSameSite(s string) (http.SameSite, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "lax":
		return http.SameSiteLaxMode, nil
	case "strict":
		return http.SameSiteStrictMode, nil
	case "none":
		return http.SameSiteNoneMode, nil
	}
	return 0, errors.New("want lax, strict or none")
}

// parseHeaderNames reads HTTP field names (RFC 9110 tokens).
func parseHeaderNames(s string) ([]string, error) {
	names := splitList(s)
	for _, n := range names {
		if n == "*" {
			// With credentials a browser reads "*" as a header named "*",
			// never as a wildcard: name the headers.
			return nil, errors.New("name the headers: \"*\" is no wildcard for credentialed requests")
		}
		if strings.TrimLeft(n, "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != "" {
			return nil, fmt.Errorf("%q is not a header name: want names like X-Request-Id", n)
		}
	}
	return names, nil
}

func parsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, p := range splitList(s) {
		if !strings.Contains(p, "/") {
			if a, err := netip.ParseAddr(p); err == nil {
				p = fmt.Sprintf("%s/%d", a, a.BitLen())
			}
		}
		pre, err := netip.ParsePrefix(p)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR: want addresses or CIDRs like 10.0.0.0/8", p)
		}
		out = append(out, pre.Masked())
	}
	return out, nil
}
