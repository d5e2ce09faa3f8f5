package store_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/store"
)

// cursorPort is a consumer's narrow port: only what it calls.
type cursorPort interface {
	Cursor(ctx context.Context, key string) (string, error)
	Rewind(ctx context.Context, key string) error // no transaction has it
}

type cursorReader interface {
	Cursor(ctx context.Context, key string) (string, error)
}

func TestRunnerSeesTransactionsThroughAPort(t *testing.T) {
	ctx := t.Context()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "cb.db"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Runner[cursorPort](st); err == nil {
		t.Fatal("Runner accepted a port the store's transactions do not implement")
	}
	r, err := store.Runner[cursorReader](st)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Transactions().Ingest.WithTx(ctx, func(tx bridge.IngestTx) error { return tx.SetCursor(ctx, "k", "v1", time.Now()) }); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := r.WithTx(ctx, func(tx cursorReader) error {
		var err error
		got, err = tx.Cursor(ctx, "k")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got != "v1" {
		t.Fatalf("cursor through the port = %q, want v1", got)
	}
}
