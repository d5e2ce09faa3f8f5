package store_test

import (
	"log/slog"
	"time"

	"github.com/carebridge/carebridge/store"
)

// bridgeTime is a fixed time for tests that need one.
var bridgeTime = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// quiet keeps migration logs out of test output.
var quiet = store.WithLogger(slog.New(slog.DiscardHandler))

// migrationCount is how many migrations each dialect embeds.
const migrationCount = 10
