package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
)

// runMigrate applies the embedded migrations and exits. Serving applies
// them too; this is for deployments that migrate in a separate step.
func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig("migrate", args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
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
