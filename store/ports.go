package store

import "github.com/carebridge/carebridge/bridge/watch"

// The ports the parts of carebridge own over the store's transactions:
// Runner[T] hands a consumer its transactions as T, and these assertions
// keep every such T implemented.
var (
	// The watching jobs (bridge/watch).
	_ watch.Tx = (*tx)(nil)
)
