package schedule

import (
	"testing"
	"time"

	"github.com/carebridge/carebridge/bridge/clocktest"
)

// gocron calls Now and AfterFunc; the rest of the clockwork.Clock built on
// them follows the fake clock too.
func TestGocronClockFollowsTheProcessClock(t *testing.T) {
	start := time.Date(2026, 3, 9, 9, 0, 0, 0, time.UTC)
	fc := clocktest.New(start)
	g := gocronClock{fc}
	if !g.Now().Equal(start) || g.Until(start.Add(time.Minute)) != time.Minute || g.Since(start.Add(-time.Second)) != time.Second {
		t.Fatalf("Now/Until/Since disagree with the clock at %s", start)
	}
	recv := func(ch <-chan time.Time, what string) time.Time {
		t.Helper()
		select {
		case v := <-ch:
			return v
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: nothing received", what)
		}
		return time.Time{}
	}
	quiet := func(ch <-chan time.Time, what string) {
		t.Helper()
		select {
		case v := <-ch:
			t.Fatalf("%s: received %s too early", what, v)
		case <-time.After(20 * time.Millisecond):
		}
	}

	// A timer, reset before it fires, fires at its new time only.
	tm := g.NewTimer(time.Minute)
	if !tm.Reset(2 * time.Minute) {
		t.Error("Reset of a pending timer = false")
	}
	fc.Advance(time.Minute)
	quiet(tm.Chan(), "timer reset to 2m, at 1m")
	fc.Advance(time.Minute)
	if v := recv(tm.Chan(), "timer at 2m"); v.Before(start.Add(2 * time.Minute)) {
		t.Errorf("timer sent %s", v)
	}
	if tm.Stop() {
		t.Error("Stop of a fired timer = true")
	}

	// A ticker ticks every period until stopped.
	tk := g.NewTicker(10 * time.Second)
	for i := 1; i <= 3; i++ {
		fc.Advance(10 * time.Second)
		recv(tk.Chan(), "tick")
		// The next tick is planned by the goroutine that sent this one.
		deadline := time.Now().Add(10 * time.Second)
		for fc.Timers() == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
	tk.Stop()
	fc.Advance(time.Minute)
	quiet(tk.Chan(), "stopped ticker")

	// AfterFunc's Stop cancels the call.
	ran := make(chan time.Time, 1)
	af := g.AfterFunc(time.Second, func() { ran <- fc.Now() })
	if !af.Stop() {
		t.Error("Stop of a pending AfterFunc = false")
	}
	fc.Advance(time.Minute)
	quiet(ran, "stopped AfterFunc")
}
