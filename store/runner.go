package store

import (
	"context"
	"fmt"

	"github.com/carebridge/carebridge/bridge"
)

// Runner returns s as a bridge.TxRunner whose transactions are seen
// through T, a port its consumer owns (a part of the core, the watching
// jobs). Every transaction of this store implements every such port; the
// compile-time assertions beside the ports' implementations keep it so,
// and Runner refuses a T that it does not implement.
func Runner[T any](s *Store) (bridge.TxRunner[T], error) {
	if _, ok := any((*tx)(nil)).(T); !ok {
		var zero *T
		return nil, fmt.Errorf("store: transactions do not implement %T", zero)
	}
	return runner[T]{s}, nil
}

type runner[T any] struct{ s *Store }

// WithTx implements bridge.TxRunner.
func (r runner[T]) WithTx(ctx context.Context, fn func(tx T) error) error {
	return r.s.withTx(ctx, func(t *tx) error { return fn(any(t).(T)) })
}

// Every part of the core's port is implemented by this store's
// transactions.
var (
	_ bridge.IngestTx     = (*tx)(nil)
	_ bridge.RelayTx      = (*tx)(nil)
	_ bridge.ApprovalTx   = (*tx)(nil)
	_ bridge.InboxTx      = (*tx)(nil)
	_ bridge.OutcomeTx    = (*tx)(nil)
	_ bridge.TicketCloser = (*tx)(nil)
)

// Transactions implements bridge.Store.
func (s *Store) Transactions() bridge.Transactions {
	return bridge.Transactions{
		Ingest:    runner[bridge.IngestTx]{s},
		Relay:     runner[bridge.RelayTx]{s},
		Outcomes:  runner[bridge.OutcomeTx]{s},
		Approvals: runner[bridge.ApprovalTx]{s},
		Inbox:     runner[bridge.InboxTx]{s},
	}
}
