package main

import (
	"os"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
)

func TestNoiseDebug(t *testing.T) {
	b0, p0 := cpuSample()
	db := sqlx.MustOpen("postgres", os.Getenv("CAREBRIDGE_TEST_POSTGRES_URL"))
	var x int
	end := time.Now().Add(3 * time.Second)
	for time.Now().Before(end) {
		db.Get(&x, "SELECT count(*) FROM generate_series(1,1000)")
	}
	b1, p1 := cpuSample()
	db.Close()
	time.Sleep(200 * time.Millisecond)
	b2, p2 := cpuSample()
	for i, s := range []map[string]int64{p0, p1, p2} {
		t.Logf("sample %d: %v", i, s)
	}
	t.Logf("busy %d %d %d", b0, b1, b2)
}
