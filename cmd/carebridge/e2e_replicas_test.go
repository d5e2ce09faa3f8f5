package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/carebridge/carebridge/adapters/x/xfake"
)

// ingestedBy reads how many posts an instance stored, from its /metrics.
func ingestedBy(t *testing.T, addr string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	n := 0
	for _, m := range regexp.MustCompile(`(?m)^carebridge_posts_ingested_total\{[^}]*\} ([0-9]+)`).FindAllSubmatch(body, -1) {
		v, _ := strconv.Atoi(string(m[1]))
		n += v
	}
	return n
}

// TestReplicasOneLeader runs two instances on one PostgreSQL: only the
// leader polls X, every post is mirrored once, and when the leader stops
// the other takes over within the leadership check.
func TestReplicasOneLeader(t *testing.T) {
	storeURL := storeKinds(t)["postgres"](t)
	h := newHarness(t, storeURL, harnessOptions{brands: []string{"SBCare"}, searches: []string{"from:ucustomer"}})
	h.x.AddUser(xfake.User{ID: "7000001", Username: "ucustomer", Name: "Kim"})

	type instance struct {
		addr string
		stop func()
	}
	start := func() instance {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		a, err := newApp(ctx, h.cfg, appOptions{Logger: slog.New(slog.DiscardHandler), Listener: ln, PollInterval: 20 * time.Millisecond, LeaderCheck: 500 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- a.run(ctx) }()
		var once sync.Once
		stop := func() { once.Do(func() { cancel(); <-done }) }
		t.Cleanup(stop)
		return instance{addr: ln.Addr().String(), stop: stop}
	}
	one, two := start(), start()
	post := func(text string) string {
		return h.x.AddTweet(xfake.Tweet{AuthorID: "7000001", Text: text}).ID
	}
	mirroredOnce := func(ids []string) {
		t.Helper()
		eventually(t, 30*time.Second, "posts mirrored", func() (bool, string) {
			m := h.mirrors()
			for _, id := range ids {
				n := 0
				for _, x := range m[id] {
					if !x.fyi {
						n++
					}
				}
				if n != 1 {
					return false, fmt.Sprintf("post %s mirrored %d times", id, n)
				}
			}
			return true, ""
		})
	}
	var first []string
	for i := 0; i < 5; i++ {
		first = append(first, post(fmt.Sprintf("my iphone battery %d", i)))
	}
	mirroredOnce(first)
	a, b := ingestedBy(t, one.addr), ingestedBy(t, two.addr)
	if (a == 0) == (b == 0) {
		t.Fatalf("posts ingested by instance one %d, two %d: want exactly one instance polling", a, b)
	}
	leader, follower := one, two
	if b > 0 {
		leader, follower = two, one
	}
	leader.stop()
	var second []string
	for i := 0; i < 5; i++ {
		second = append(second, post(fmt.Sprintf("my ipad screen %d", i)))
	}
	mirroredOnce(second)
	if n := ingestedBy(t, follower.addr); n < len(second) {
		t.Errorf("the follower ingested %d posts after the leader stopped, want %d", n, len(second))
	}
	time.Sleep(500 * time.Millisecond)
	mirroredOnce(append(first, second...))
}
