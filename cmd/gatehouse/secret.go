package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/token"
)

// legacySecretName is where versions before the key ring kept the
// generated root secret: in the database, so a copy of the database could
// mint tokens.
const legacySecretName = "jwt_signing_key"

// legacySecrets is what the stores offer to move that secret out.
type legacySecrets interface {
	LegacySecret(ctx context.Context, name string) ([]byte, error)
	DeleteLegacySecret(ctx context.Context, name string) error
}

// secretFilePath is --secret-file, or on SQLite by default the database's
// path + ".key": one owner-only file beside the database, never inside it.
func secretFilePath(cfg *Config) string {
	if cfg.SecretFile != "" {
		return cfg.SecretFile
	}
	if path, ok := strings.CutPrefix(cfg.DB, "sqlite:"); ok && path != "" {
		return path + ".key"
	}
	return ""
}

// rootSecret returns the root secret: --secret, or else the bytes of the
// secret file. On SQLite a missing file is created (with the key an earlier
// version kept in the database, if any, so nobody is signed out; else a
// random one). On PostgreSQL every node must be given the same secret, so
// nothing is generated.
func rootSecret(ctx context.Context, cfg *Config, store auth.Store, log *slog.Logger) ([]byte, error) {
	if cfg.Secret != "" {
		return []byte(cfg.Secret), nil
	}
	path := secretFilePath(cfg)
	legacy, _ := store.(legacySecrets)
	if path == "" {
		if legacy != nil {
			if _, err := legacy.LegacySecret(ctx, legacySecretName); err == nil {
				return nil, errors.New("the root secret is still kept in the database by an earlier version: move it out once with " +
					"'gatehouse keys export-root --secret-file PATH', then give every node --secret-file PATH (see docs/operations.md)")
			}
		}
		return nil, usagef("PostgreSQL needs --secret or --secret-file (GATEHOUSE_SECRET, GATEHOUSE_SECRET_FILE): every node must share the root secret")
	}
	key, err := readSecretFile(path, log)
	if err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(cfg.DB, "sqlite:") {
		if err == nil && legacy != nil {
			err = finishMove(ctx, legacy, key, path)
		}
		return key, err
	}
	return createRootSecret(ctx, legacy, path, log)
}

// createRootSecret writes the SQLite deployment's root secret file: the
// key in the database, moved out, or a new random one.
func createRootSecret(ctx context.Context, legacy legacySecrets, path string, log *slog.Logger) ([]byte, error) {
	key, err := legacy.LegacySecret(ctx, legacySecretName)
	moved := err == nil
	switch {
	case errors.Is(err, auth.ErrNotFound):
		key = make([]byte, 32)
		rand.Read(key)
	case err != nil:
		return nil, err
	}
	if key, err = writeSecretFile(path, key); err != nil {
		return nil, err
	}
	if moved {
		log.Warn("moved the root secret out of the database into its own file; back that file up separately from the database", "file", path)
		return key, finishMove(ctx, legacy, key, path)
	}
	log.Info("generated the root secret; back this file up separately from the database", "file", path)
	return key, nil
}

// finishMove deletes the database's copy of the root secret once the file
// holds it (again at every start, in case a move was interrupted). A
// different key in the database means the file and the database do not
// belong together: refuse rather than sign everyone out.
func finishMove(ctx context.Context, legacy legacySecrets, key []byte, path string) error {
	old, err := legacy.LegacySecret(ctx, legacySecretName)
	switch {
	case errors.Is(err, auth.ErrNotFound):
		return nil
	case err != nil:
		return err
	case !bytes.Equal(old, key):
		return fmt.Errorf("the database holds a root secret that differs from %s: is this the file of another database?", path)
	}
	return legacy.DeleteLegacySecret(ctx, legacySecretName)
}

// readSecretFile reads a root secret: the file's bytes exactly, as
// --secret takes the value's.
func readSecretFile(path string, log *slog.Logger) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("secret file: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().Perm()&0o077 != 0 {
		log.Warn("the root secret file can be read by other users; chmod 600 it", "file", path, "mode", st.Mode().Perm().String())
	}
	key, err := readAllLimited(f, 4096)
	if err != nil {
		return nil, fmt.Errorf("secret file %s: %w", path, err)
	}
	if len(key) < token.MinKeySize {
		return nil, fmt.Errorf("secret file %s holds %d bytes, need at least %d", path, len(key), token.MinKeySize)
	}
	return key, nil
}

func readAllLimited(f *os.File, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("more than %d bytes", limit)
	}
	return b, nil
}

// writeSecretFile creates path holding key, owner-only (0600 whatever the
// umask), complete or not at all: the key goes to a temporary file that is
// synced and then linked into place, which fails if path exists. If
// another process won that race, its key is returned, so all agree.
func writeSecretFile(path string, key []byte) ([]byte, error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".gatehouse-key-*")
	if err != nil {
		return nil, fmt.Errorf("secret file: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(key)
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("secret file: %w", err)
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		return readSecretFile(path, slog.New(slog.DiscardHandler))
	} else if err != nil {
		return nil, fmt.Errorf("secret file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // the new name survives a power loss
		d.Close()
	}
	return key, nil
}
