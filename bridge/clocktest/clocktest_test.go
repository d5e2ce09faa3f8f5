package clocktest_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/clocktest"
)

var _ bridge.TimerClock = (*clocktest.Clock)(nil)

var start = time.Date(2026, 3, 9, 9, 0, 0, 0, time.UTC)

// fired records the clock's time when each call ran.
type fired struct {
	mu  sync.Mutex
	at  map[string]time.Time
	ran chan string
}

func (f *fired) fn(c *clocktest.Clock, name string) func() {
	return func() {
		f.mu.Lock()
		f.at[name] = c.Now()
		f.mu.Unlock()
		f.ran <- name
	}
}

func TestAfterFuncRunsWhenTheClockPassesItsTime(t *testing.T) {
	c := clocktest.New(start)
	f := &fired{at: map[string]time.Time{}, ran: make(chan string, 10)}
	c.AfterFunc(2*time.Minute, f.fn(c, "2m"))
	c.AfterFunc(time.Minute, f.fn(c, "1m"))
	stopped := c.AfterFunc(90*time.Second, f.fn(c, "90s"))
	c.AfterFunc(time.Hour, f.fn(c, "1h"))
	if got := c.Timers(); got != 4 {
		t.Fatalf("Timers = %d, want 4", got)
	}
	if !stopped.Stop() {
		t.Error("Stop of a pending call = false")
	}
	if stopped.Stop() {
		t.Error("second Stop = true")
	}

	c.Advance(59 * time.Second)
	select {
	case name := <-f.ran:
		t.Fatalf("%s ran 59s in", name)
	case <-time.After(20 * time.Millisecond):
	}
	c.Advance(2 * time.Minute) // to 2m59s: 1m and 2m run, 1h waits
	got := map[string]bool{}
	for range 2 {
		select {
		case name := <-f.ran:
			got[name] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("ran %v, want 1m and 2m", got)
		}
	}
	if !got["1m"] || !got["2m"] {
		t.Errorf("ran %v, want 1m and 2m", got)
	}
	if n := c.Timers(); n != 1 {
		t.Errorf("Timers = %d after the advance, want 1 (1h)", n)
	}
	if want := start.Add(179 * time.Second); !c.Now().Equal(want) {
		t.Errorf("Now = %s, want %s", c.Now(), want)
	}
	// A call ran with the clock at least at its due time.
	f.mu.Lock()
	if at := f.at["1m"]; at.Before(start.Add(time.Minute)) {
		t.Errorf("1m ran with the clock at %s", at)
	}
	f.mu.Unlock()
}

func TestAfterFuncNowAndSetBack(t *testing.T) {
	c := clocktest.New(start)
	f := &fired{at: map[string]time.Time{}, ran: make(chan string, 10)}
	c.AfterFunc(0, f.fn(c, "now"))
	select {
	case <-f.ran:
	case <-time.After(10 * time.Second):
		t.Fatal("AfterFunc(0) did not run")
	}
	c.AfterFunc(time.Minute, f.fn(c, "1m"))
	c.Set(start.Add(-time.Hour)) // back: nothing is due
	if c.Timers() != 1 || !c.Now().Equal(start.Add(-time.Hour)) {
		t.Errorf("after Set back: Timers = %d, Now = %s", c.Timers(), c.Now())
	}
}

func TestWaitForTimers(t *testing.T) {
	c := clocktest.New(start)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	go func() {
		for range 3 {
			c.AfterFunc(time.Hour, func() {})
		}
	}()
	if err := c.WaitForTimers(ctx, 3); err != nil {
		t.Fatal(err)
	}
	short, cancel2 := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel2()
	if err := c.WaitForTimers(short, 4); err == nil {
		t.Error("WaitForTimers(4) with 3 pending returned nil")
	}
}
