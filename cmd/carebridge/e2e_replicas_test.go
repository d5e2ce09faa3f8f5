package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
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

// TestReplicasKilledLeader runs two `carebridge serve` processes (the real
// binary) on one PostgreSQL with the same configuration and sources: one
// leads and polls X, both deliver the outbox. Posts are mirrored once and
// approved replies sent once; when the leader is killed with SIGKILL (while
// approved replies are in flight), the other process takes the pollers
// over within 30 s and finishes the work, still without duplicates.
func TestReplicasKilledLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two processes of the real binary; skipped with -short")
	}
	began := time.Now()
	storeURL := storeKinds(t)["postgres"](t)
	rng := seededRNG(t)
	w := newServeWorld(t, storeURL, serveWorldOptions{posts: 600})
	// The second process: same configuration, another HTTP address.
	addrB := freeAddr(t)
	cfgB := filepath.Join(w.dir, "carebridge-b.yaml")
	if err := os.WriteFile(cfgB, []byte(strings.Replace(w.cfgSrc, "addr: "+w.addr, "addr: "+addrB, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	a := w.serve()
	waitReady(t, a.addr, time.Minute)
	b := startServe(t, cfgB, filepath.Join(w.dir, "serve-b.log"))
	b.addr = addrB
	waitReady(t, b.addr, time.Minute)

	first, second := w.posts[:300], w.posts[300:]
	for _, p := range first {
		w.publish(p)
	}
	w.waitMirrored(first, 3*time.Minute)
	na, nb := ingestedBy(t, a.addr), ingestedBy(t, b.addr)
	if (na == 0) == (nb == 0) {
		t.Fatalf("posts ingested by process A %d, B %d: want exactly one process polling", na, nb)
	}
	leader, follower := a, b
	if nb > 0 {
		leader, follower = b, a
	}
	t.Logf("leader %s ingested %d posts, follower %s ingested 0", leader.addr, max(na, nb), follower.addr)

	replies := w.prepareReplies(rng, 20, 2*time.Minute, nil)
	early, late := replies[:10], replies[10:]
	for _, r := range early {
		w.approve(r)
	}
	// Kill the leader while those replies are going out and posts arrive.
	for _, p := range second[:100] {
		w.publish(p)
	}
	time.Sleep(time.Duration(rng.IntN(500)) * time.Millisecond)
	sentAtKill := w.tallyReplies(early).sent
	kill(leader)
	killed := time.Now()
	t.Logf("SIGKILL to the leader with %d of %d approved replies on X", sentAtKill, len(early))
	for _, p := range second[100:] {
		w.publish(p)
	}
	eventually(t, 30*time.Second, "the follower polling X", func() (bool, string) {
		n := ingestedBy(t, follower.addr)
		return n > 0, fmt.Sprintf("follower ingested %d", n)
	})
	handOver := time.Since(killed)
	t.Logf("hand-over: the follower ingested its first post %.1fs after the SIGKILL", handOver.Seconds())
	for _, r := range late {
		w.approve(r)
	}
	eventually(t, 3*time.Minute, "every reply sent", func() (bool, string) {
		c := w.tallyReplies(replies)
		return c.sent == len(replies), fmt.Sprintf("%d of %d", c.sent, len(replies))
	})
	w.waitMirrored(w.posts, 3*time.Minute)
	time.Sleep(3 * time.Second)
	mt, rt := w.tallyMirrors(w.posts), w.tallyReplies(replies)
	if mt.lost+mt.doubled+rt.lost+rt.doubled > 0 {
		t.Errorf("posts: %+v; replies: %+v", mt, rt)
	}
	scheduledNoDuplicates(t, w)
	t.Logf("RESULT replicas: %d posts (mirrored %d, lost %d, doubled %d), %d replies (sent %d, lost %d, doubled %d), hand-over %.1fs, %.0fs in all",
		mt.posts, mt.mirrored, mt.lost, mt.doubled, rt.replies, rt.sent, rt.lost, rt.doubled, handOver.Seconds(), time.Since(began).Seconds())
}

// scheduledNoDuplicates is the place for the scheduled jobs of issue 6
// (greetings and digests, built on the `watch` branch): it counts the
// greeting posts on X (our standalone tweets, not replies) and the digest
// messages in Slack, and fails on any message sent twice. Until that
// feature lands it counts zero of each and checks nothing more; once it
// does, the replica test must also configure greetings and digests due
// during the run and assert that they arrived (count > 0) — extend here.
func scheduledNoDuplicates(t *testing.T, w *serveWorld) {
	t.Helper()
	greetings := map[string]int{}
	for _, tw := range w.x.SentTweets() {
		if tw.InReplyToTweetID == "" {
			greetings[tw.Text]++
		}
	}
	digests := map[string]int{}
	for _, d := range e2eDepartments {
		for _, m := range w.slack.Messages(d.channel) {
			if m.FromBot() && m.ThreadTS == "" && strings.Contains(strings.ToLower(m.Text), "digest") {
				digests[d.channel+"\x00"+m.Text]++
			}
		}
	}
	for what, counts := range map[string]map[string]int{"greeting": greetings, "digest": digests} {
		total := 0
		for text, n := range counts {
			total += n
			if n > 1 {
				t.Errorf("%s sent %d times: %q", what, n, text)
			}
		}
		t.Logf("%s messages: %d (zero until the scheduled jobs of the watch branch land)", what, total)
	}
}
