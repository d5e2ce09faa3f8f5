package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/carebridge/carebridge/bridge/config"
	"github.com/carebridge/carebridge/store"
)

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("migrate", "-config FILE", "Applies the embedded database migrations to the store named by store.url\n(SQLite by default) and exits. `carebridge serve` also applies them at start.", stderr)
	path := fs.String("config", "carebridge.yaml", "configuration `file`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*path, config.LevelStore)
	var errs config.Errors
	if errors.As(err, &errs) {
		fmt.Fprintf(stderr, "%s has problems:\n%v\n", *path, errs)
		return exitError(1)
	}
	if err != nil {
		return err
	}
	// Open without migrating, then migrate here: the count printed is
	// the number of migrations this run applied.
	st, err := store.Open(ctx, cfg.Store.URL.Reveal(), store.WithoutMigrations(), store.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return err
	}
	defer st.Close()
	applied, err := st.Migrate(ctx)
	for _, v := range applied {
		fmt.Fprintf(stdout, "applied %s\n", v)
	}
	if err != nil {
		return err
	}
	switch len(applied) {
	case 0:
		fmt.Fprintf(stdout, "%s store is up to date (no migration to apply)\n", st.Dialect())
	default:
		fmt.Fprintf(stdout, "%s store is up to date (%d migration%s applied)\n", st.Dialect(), len(applied), plural(len(applied)))
	}
	return nil
}
