package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
)

const migrateUsage = `Usage: gatehouse migrate [flags]

Apply the database migrations and exit. Serving applies them too; this is
for deployments that migrate in a separate step.`

// runMigrate applies the embedded migrations and exits. Serving applies
// them too; this is for deployments that migrate in a separate step.
func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseGroups("migrate", groupStore|groupLog, migrateUsage, args, getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	warnUnknownEnv(ctx, newLogger(cfg, stderr))
	store, err := openStore(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Ready(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "migrations applied to %s\n", redactDSN(cfg.DB))
	return nil
}
