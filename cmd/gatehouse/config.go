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
	LogLevel          slog.Level
	LogFormat         string
	ShutdownTimeout   time.Duration
	Mail              MailConfig
	ShutdownDrain     time.Duration
	MaxClockSkew      time.Duration
	SQLiteMinFreeMiB  int
	// issuesNoTokens marks the one-shot admin commands' app (set by
	// openApp, never by a flag): see appKeys.
	issuesNoTokens bool
}

// minSecretBytes is the least key size for HS256 (RFC 7518 §3.2).
const minSecretBytes = 32

// parseConfig reads flags from args, defaulting each from its GATEHOUSE_*
// variable. Bad values are usage errors naming the flag.
func parseConfig(name string, args []string, getenv func(string) string, stderr io.Writer) (*Config, error) {
	c := &Config{}
	fs := flag.NewFlagSet("gatehouse "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cors, corsHeaders, sameSite, proxies, logLevel string
	fs.StringVar(&c.Addr, "addr", "localhost:3000", "listen address")
	fs.StringVar(&c.DB, "db", "sqlite:gatehouse.db", "database: sqlite:PATH or a postgres:// URL")
	fs.StringVar(&c.Redis, "redis", "", "optional redis:// URL for rate-limit and back-off counters shared by all nodes")
	fs.StringVar(&c.Secret, "secret", "", "root secret, at least 32 bytes: derives session secrets and is the seed's HS256 key (default: --secret-file)")
	fs.StringVar(&c.SecretFile, "secret-file", "", "file holding the root secret (its bytes exactly); default on SQLite: the database path + .key, created owner-only if missing")
	fs.StringVar(&c.TokenAlg, "token-alg", "HS256", "access-token signature: HS256 (the seed's format), EdDSA or ES256 (with kid, public keys at /.well-known/jwks.json)")
	fs.DurationVar(&c.AccessTTL, "access-ttl", time.Hour, "access token lifetime")
	fs.DurationVar(&c.SessionTTL, "session-ttl", 7*24*time.Hour, "session lifetime (not extended by refreshing)")
	fs.DurationVar(&c.RefreshGrace, "refresh-grace", 10*time.Second, "how long a just-replaced token still refreshes to the same result")
	fs.BoolVar(&c.CookieSecure, "cookie-secure", true, "mark the access cookie Secure (false only for plain-HTTP development)")
	fs.BoolVar(&c.CookieHostPrefix, "cookie-host-prefix", false, "name the cookie __Host-jwt_access (requires --cookie-secure)")
	fs.StringVar(&sameSite, "cookie-samesite", "lax", "SameSite of the access cookie: lax, strict or none (none, for an SPA on another site, requires --cookie-secure)")
	fs.BoolVar(&c.RateLimit, "rate-limit", true, "rate limits and per-account back-off (false for benchmarks and tests)")
	fs.IntVar(&c.PasswordMinLength, "password-min-length", 8, "minimum password length in characters")
	fs.StringVar(&cors, "cors-origins", "", "comma-separated exact origins allowed to call with credentials")
	fs.StringVar(&corsHeaders, "cors-headers", "", "comma-separated request headers allowed from --cors-origins besides the default "+strings.Join(httpapi.DefaultCORSHeaders(), ", "))
	fs.StringVar(&proxies, "trusted-proxies", "", "comma-separated CIDRs whose X-Forwarded-For is believed")
	fs.IntVar(&c.IPv6Prefix, "ipv6-prefix", 64, "prefix length that groups IPv6 clients for rate limits and back-off (one subscriber holds a /64)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "", "listen address for GET /metrics, e.g. 127.0.0.1:9464 (default: no metrics); never the API's")
	fs.IntVar(&c.HashSlots, "hash-slots", 0, "password hashes in flight at most (default GOMAXPROCS)")
	fs.DurationVar(&c.HashWait, "hash-wait", time.Second, "how long a sign-in waits for a hash slot before 503")
	fs.IntVar(&c.HashQueue, "hash-queue", 0, "sign-ins that may wait for a hash slot at once; more get 503 at once (default 32 x hash slots)")
	fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error (debug logs every request)")
	fs.StringVar(&c.LogFormat, "log-format", "json", "json or text")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 15*time.Second, "how long to drain requests on SIGTERM")
	c.Mail.flags(fs)
	fs.DurationVar(&c.ShutdownDrain, "shutdown-drain", time.Second, "on SIGTERM, how long to keep answering new requests with 503 and Retry-After before refusing connections")
	fs.DurationVar(&c.MaxClockSkew, "max-clock-skew", 30*time.Second, "how far this node's clock may be from the database's; beyond it /readyz fails")
	fs.IntVar(&c.SQLiteMinFreeMiB, "sqlite-min-free-mib", 64, "free space (MiB) the SQLite database's file system must keep; below it /readyz fails")

	// Environment first, so explicit flags parsed afterwards win.
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		env := "GATEHOUSE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(env); v != "" && envErr == nil {
			if err := f.Value.Set(v); err != nil {
				envErr = usagef("%s: %v", env, err)
			}
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected argument %q", fs.Arg(0))
	}
	if err := c.LogLevel.UnmarshalText([]byte(logLevel)); err != nil {
		return nil, usagef("--log-level: %v", err)
	}
	var err error
	if c.CORSOrigins, err = parseOrigins(cors); err != nil {
		return nil, err
	}
	if c.CORSHeaders, err = parseHeaderNames(corsHeaders); err != nil {
		return nil, err
	}
	if c.CookieSameSite, err = parseSameSite(sameSite); err != nil {
		return nil, err
	}
	if c.TrustedProxies, err = parsePrefixes(proxies); err != nil {
		return nil, err
	}
	if err := c.Mail.validate(); err != nil {
		return nil, err
	}
	return c, c.validate()
}

func (c *Config) validate() error {
	switch {
	case c.Secret != "" && len(c.Secret) < minSecretBytes:
		return usagef("--secret must be at least %d bytes, got %d", minSecretBytes, len(c.Secret))
	case c.Secret != "" && c.SecretFile != "":
		return usagef("--secret and --secret-file are two ways to give one secret: give one")
	case c.TokenAlg != "HS256" && c.TokenAlg != "EdDSA" && c.TokenAlg != "ES256":
		return usagef("--token-alg must be HS256, EdDSA or ES256")
	case c.AccessTTL < time.Second || c.SessionTTL < time.Second:
		return usagef("--access-ttl and --session-ttl must be at least 1s")
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
	case c.LogFormat != "json" && c.LogFormat != "text":
		return usagef("--log-format must be json or text")
	}
	return nil
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
			return nil, usagef("--cors-origins: %q is not an origin like https://app.example.com", o)
		}
	}
	return origins, nil
}

// parseSameSite reads --cookie-samesite.
func parseSameSite(s string) (http.SameSite, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "lax":
		return http.SameSiteLaxMode, nil
	case "strict":
		return http.SameSiteStrictMode, nil
	case "none":
		return http.SameSiteNoneMode, nil
	}
	return 0, usagef("--cookie-samesite must be lax, strict or none, got %q", s)
}

// parseHeaderNames reads --cors-headers: HTTP field names (RFC 9110 tokens).
func parseHeaderNames(s string) ([]string, error) {
	names := splitList(s)
	for _, n := range names {
		if n == "*" {
			// With credentials a browser reads "*" as a header named "*",
			// never as a wildcard: name the headers.
			return nil, usagef("--cors-headers: name the headers; \"*\" is no wildcard for credentialed requests")
		}
		if strings.TrimLeft(n, "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != "" {
			return nil, usagef("--cors-headers: %q is not a header name", n)
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
			return nil, usagef("--trusted-proxies: %q is not a CIDR", p)
		}
		out = append(out, pre.Masked())
	}
	return out, nil
}
