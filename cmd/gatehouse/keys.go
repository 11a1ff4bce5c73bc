package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/keyring"
	"github.com/gatehouse/gatehouse/internal/token"
)

const keysUsage = `Usage: gatehouse keys <command> [arguments] [flags]

Rotate the keys that sign access tokens, without signing anyone out. The
root secret (--secret or the key file) derives every session secret and
never rotates; it is the HS256 key "root" of the seed's format. Running
nodes pick up changes within 10s.

Commands:
  list              the keys, their algorithm and state (--json)
  add               make a new key (--alg): it verifies at once, signs once activated
  activate KEY_ID   make the key sign, at least 5m20s after add; the key it replaces retires
  retire KEY_ID     stop a key from being chosen to sign; it still verifies
  remove KEY_ID     delete a retired key once no token it signed can be presented
  export-root       move the root secret an earlier version kept in the database into --secret-file

Rotation: add, wait until every node and JWKS cache knows the key, activate;
remove the old key after the session lifetime. See docs/operations.md.
`

// runKeys dispatches 'gatehouse keys …'.
func runKeys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && !isHelp(args[0]) {
		return usagef("keys: missing command (see 'gatehouse keys -h')")
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "list":
		return runKeysList(ctx, args, getenv, stdout, stderr)
	case "add":
		return runKeysAdd(ctx, args, getenv, stdout, stderr)
	case "activate", "retire", "remove":
		return runKeysChange(ctx, cmd, args, getenv, stdout, stderr)
	case "export-root":
		return runKeysExportRoot(ctx, args, getenv, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, keysUsage)
		return nil
	}
	return usagef("keys: unknown command %q (see 'gatehouse keys -h')", cmd)
}

// onRing runs fn on the key ring of the command's database.
func (c *adminCmd) onRing(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, fn func(*keyring.Ring, []string, *Config) error) error {
	pos, cfg, err := c.parse(args, getenv, stdout)
	if err != nil || cfg == nil {
		return err
	}
	store, err := openStore(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer store.Close()
	rs, ok := store.(keyring.Store)
	if !ok {
		return fmt.Errorf("%s: this database keeps no key ring", c.name)
	}
	log := newLogger(cfg, stderr)
	warnUnknownEnv(ctx, log)
	root, err := rootSecret(ctx, cfg, store, log)
	if err != nil {
		return err
	}
	ring, err := keyring.New(rs, root, nil)
	if err != nil {
		return err
	}
	return adminError(c.name, fn(ring, pos, cfg))
}

type keyJSON struct {
	ID          string     `json:"id"`
	Alg         string     `json:"alg"`
	State       string     `json:"state"`
	CreatedAt   time.Time  `json:"created_at"`
	ActivatedAt *time.Time `json:"activated_at"`
	RetiredAt   *time.Time `json:"retired_at"`
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func runKeysList(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := newAdminCmd("keys list", "", groupKeys, `List the signing keys: id, algorithm, state (published: verifies and is in
the JWKS; active: signs; retired: verifies until removed) and when each
state began. "root" is the root secret as the seed's HS256 key.`)
	asJSON := c.fs.Bool("json", false, "print a JSON array instead of a table")
	return c.onRing(ctx, args, getenv, stdout, stderr, func(r *keyring.Ring, _ []string, _ *Config) error {
		recs, err := r.List(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			out := make([]keyJSON, len(recs))
			for i, k := range recs {
				out[i] = keyJSON{k.ID, k.Alg, k.State, k.CreatedAt, optionalTime(k.ActivatedAt), optionalTime(k.RetiredAt)}
			}
			return printJSON(stdout, out)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tALG\tSTATE\tCREATED\tACTIVATED\tRETIRED")
		for _, k := range recs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Alg, k.State, stamp(k.CreatedAt), keyStamp(k.ActivatedAt), keyStamp(k.RetiredAt))
		}
		return tw.Flush()
	})
}

// keyStamp is stamp, or "-" for never.
func keyStamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return stamp(t)
}

func runKeysAdd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := newAdminCmd("keys add", "", groupKeys, `Make a new signing key, sealed in the database under the root secret. It
verifies on every node (and is published in the JWKS) within 10s, and signs
once activated. --material-file imports a key kept elsewhere (a secret
manager; or an HS256 secret shared with services that verify tokens).`)
	alg := c.fs.String("alg", token.HS256, "HS256, EdDSA or ES256")
	from := c.fs.String("material-file", "", "import the key from this file instead of generating one: its bytes exactly (HS256: the secret, 32 bytes or more, as services that verify HS256 tokens hold it; EdDSA: a 32-byte Ed25519 seed; ES256: a 32-byte P-256 scalar)")
	return c.onRing(ctx, args, getenv, stdout, stderr, func(r *keyring.Ring, _ []string, _ *Config) error {
		var rec keyring.Record
		var err error
		if *from == "" {
			rec, err = r.Add(ctx, *alg, false)
		} else {
			var material []byte
			if material, err = readKeyMaterial(*from); err == nil {
				rec, err = r.Import(ctx, *alg, material)
			}
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "added %s key %s; activate it after %s: gatehouse keys activate %s\n",
			rec.Alg, rec.ID, stamp(rec.CreatedAt.Add(keyring.PublishDelay)), rec.ID)
		return nil
	})
}

func readKeyMaterial(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAllLimited(f, 4096)
}

func runKeysChange(ctx context.Context, cmd string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	help := map[string]string{
		"activate": `Make a key sign for its algorithm; the key that signed before is retired
and keeps verifying. Refused within 5m20s of 'keys add' (a node or a JWKS
cache may not know the key yet, and would refuse its tokens) unless --force.`,
		"retire": `Stop a key from being chosen to sign (a published key that never signed,
say). It keeps verifying until removed. The active key cannot be retired:
activate another first.`,
		"remove": `Delete a retired key: tokens it signed stop verifying. Refused until it has
been retired for the session lifetime plus the JWKS cache time (a refresh
accepts an expired access token for as long as its session lives), unless
--force: after a leak, say, which signs out idle browser sessions whose
last token it signed.`,
	}[cmd]
	groups := groupKeys
	if cmd == "remove" {
		// It waits out the servers' lifetimes: they must be the servers'.
		groups |= groupLifetimes
	}
	c := newAdminCmd("keys "+cmd, "KEY_ID", groups, help)
	var force *bool
	if cmd != "retire" {
		force = c.fs.Bool("force", false, "skip the safety wait")
	}
	return c.onRing(ctx, args, getenv, stdout, stderr, func(r *keyring.Ring, pos []string, cfg *Config) error {
		id := pos[0]
		var err error
		switch cmd {
		case "activate":
			err = r.Activate(ctx, id, *force)
		case "retire":
			err = r.Retire(ctx, id)
		case "remove":
			keep := max(cfg.SessionTTL, cfg.AccessTTL) + keyring.JWKSMaxAge
			err = r.Remove(ctx, id, keep, *force)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "key %s: %s; running nodes follow within %v\n", id, map[string]string{
			"activate": "active", "retire": "retired", "remove": "removed"}[cmd], keyring.ReloadInterval)
		return nil
	})
}

// runKeysExportRoot moves the root secret an earlier version generated and
// kept in the database (so a database copy could mint tokens) into its own
// file: once, on one machine, before upgraded nodes start with
// --secret-file. The file's bytes are the key exactly, so every node,
// old or new, keeps verifying every token and session.
func runKeysExportRoot(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := newAdminCmd("keys export-root", "", groupKeys, `Move the root secret that an earlier version kept in the database into the
file --secret-file (created owner-only; refused if it holds another key),
then delete it from the database. Then give every node --secret-file (or the
file's bytes as --secret). Nobody is signed out. SQLite does this by itself.`)
	_, cfg, err := c.parse(args, getenv, stdout)
	if err != nil || cfg == nil {
		return err
	}
	if cfg.SecretFile == "" {
		return usagef("keys export-root: --secret-file is required: where to write the root secret")
	}
	warnUnknownEnv(ctx, newLogger(cfg, stderr))
	store, err := openStore(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer store.Close()
	legacy, ok := store.(legacySecrets)
	if !ok {
		return errors.New("keys export-root: this database keeps no secrets")
	}
	key, err := legacy.LegacySecret(ctx, legacySecretName)
	if errors.Is(err, auth.ErrNotFound) {
		return errors.New("keys export-root: the database holds no root secret (already moved?)")
	} else if err != nil {
		return err
	}
	written, err := writeSecretFile(cfg.SecretFile, key)
	if err != nil {
		return err
	}
	if !bytes.Equal(written, key) {
		return fmt.Errorf("keys export-root: %s already holds another key; not overwritten, nothing deleted", cfg.SecretFile)
	}
	if err := legacy.DeleteLegacySecret(ctx, legacySecretName); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "moved the root secret into %s and deleted it from the database; start every node with --secret-file %s\n", cfg.SecretFile, cfg.SecretFile)
	return nil
}
