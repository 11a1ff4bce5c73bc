package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Config is every setting of the service, from flags and GATEHOUSE_*
// environment variables (flags win).
type Config struct {
	Addr              string
	DB                string
	Redis             string
	Secret            string
	AccessTTL         time.Duration
	SessionTTL        time.Duration
	RefreshGrace      time.Duration
	CookieSecure      bool
	CookieHostPrefix  bool
	RateLimit         bool
	PasswordMinLength int
	CORSOrigins       []string
	TrustedProxies    []netip.Prefix
	HashSlots         int
	HashWait          time.Duration
	HashQueue         int
	LogLevel          slog.Level
	LogFormat         string
	ShutdownTimeout   time.Duration
	Mail              MailConfig
}

// minSecretBytes is the least key size for HS256 (RFC 7518 §3.2).
const minSecretBytes = 32

// parseConfig reads flags from args, defaulting each from its GATEHOUSE_*
// variable. Bad values are usage errors naming the flag.
func parseConfig(name string, args []string, getenv func(string) string, stderr io.Writer) (*Config, error) {
	c := &Config{}
	fs := flag.NewFlagSet("gatehouse "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cors, proxies, logLevel string
	fs.StringVar(&c.Addr, "addr", "localhost:3000", "listen address")
	fs.StringVar(&c.DB, "db", "sqlite:gatehouse.db", "database: sqlite:PATH or a postgres:// URL")
	fs.StringVar(&c.Redis, "redis", "", "optional redis:// URL for rate-limit and back-off counters shared by all nodes")
	fs.StringVar(&c.Secret, "secret", "", "HS256 key, at least 32 bytes; default: a random key generated once and kept in the database")
	fs.DurationVar(&c.AccessTTL, "access-ttl", time.Hour, "access token lifetime")
	fs.DurationVar(&c.SessionTTL, "session-ttl", 7*24*time.Hour, "session lifetime (not extended by refreshing)")
	fs.DurationVar(&c.RefreshGrace, "refresh-grace", 10*time.Second, "how long a just-replaced token still refreshes to the same result")
	fs.BoolVar(&c.CookieSecure, "cookie-secure", true, "mark the access cookie Secure (false only for plain-HTTP development)")
	fs.BoolVar(&c.CookieHostPrefix, "cookie-host-prefix", false, "name the cookie __Host-jwt_access (requires --cookie-secure)")
	fs.BoolVar(&c.RateLimit, "rate-limit", true, "rate limits and per-account back-off (false for benchmarks and tests)")
	fs.IntVar(&c.PasswordMinLength, "password-min-length", 8, "minimum password length in characters")
	fs.StringVar(&cors, "cors-origins", "", "comma-separated exact origins allowed to call with credentials")
	fs.StringVar(&proxies, "trusted-proxies", "", "comma-separated CIDRs whose X-Forwarded-For is believed")
	fs.IntVar(&c.HashSlots, "hash-slots", 0, "password hashes in flight at most (default GOMAXPROCS)")
	fs.DurationVar(&c.HashWait, "hash-wait", time.Second, "how long a sign-in waits for a hash slot before 503")
	fs.IntVar(&c.HashQueue, "hash-queue", 0, "sign-ins that may wait for a hash slot at once; more get 503 at once (default 32 x hash slots)")
	fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error (debug logs every request)")
	fs.StringVar(&c.LogFormat, "log-format", "json", "json or text")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 15*time.Second, "how long to drain requests on SIGTERM")
	c.Mail.flags(fs)

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
	case c.AccessTTL < time.Second || c.SessionTTL < time.Second:
		return usagef("--access-ttl and --session-ttl must be at least 1s")
	case c.RefreshGrace < 0:
		return usagef("--refresh-grace must not be negative")
	case c.PasswordMinLength < 1 || c.PasswordMinLength > 256:
		return usagef("--password-min-length must be between 1 and 256")
	case c.HashSlots < 0 || c.HashQueue < 0:
		return usagef("--hash-slots and --hash-queue must not be negative")
	case c.CookieHostPrefix && !c.CookieSecure:
		return usagef("--cookie-host-prefix needs --cookie-secure")
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
