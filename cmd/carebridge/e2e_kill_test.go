package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/carebridge/carebridge/adapters/slack/slackfake"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds carebridge once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "carebridge-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "carebridge")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// process is a running `carebridge serve`.
type process struct {
	cmd  *exec.Cmd
	addr string
	done chan error
}

func startServe(t *testing.T, cfgPath, logPath string) *process {
	t.Helper()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary(t), "serve", "-config", cfgPath, "-log-level", "debug")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); logf.Close() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// TestServeKilledMidReplay replays generated posts (300 by default) into
// the fake X and answers 40 of them from Slack (staff drafts in the
// threads, approved by the manager's reaction) while `carebridge serve`
// is killed with SIGKILL at 6 random moments spread over ingest,
// mirroring, drafting and sending, and restarted after each. The fakes
// hold the platforms' limits (harness): Slack posts about one message a
// second per channel and allows history reads at a Marketplace app's
// limits (below: why not an unlisted app's); X counts every endpoint's
// 15-minute window.
// Afterwards, counted on the fakes, every post is in Slack exactly once
// and every reply on X exactly once. A last SIGTERM shows the graceful
// shutdown.
//
// Knobs: CAREBRIDGE_E2E_KILL_POSTS (300), CAREBRIDGE_E2E_KILL_REPLIES
// (40; X allows 100 replies per 15 minutes), CAREBRIDGE_E2E_SEED (random,
// logged), CAREBRIDGE_E2E_KILL_WAIT (3m, the wait for each phase).
func TestServeKilledMidReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	// The end-to-end tests run in parallel with each other (go test
	// -parallel, see .ci/test.sh): most of their time is the platforms'
	// pacing and the wall clock, not CPU.
	t.Parallel()
	for name, storeURL := range storeKinds(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testServeKilled(t, storeURL(t))
		})
	}
}

func testServeKilled(t *testing.T, storeURL string) {
	began := time.Now()
	nPosts := envInt("CAREBRIDGE_E2E_KILL_POSTS", 300)
	nReplies := envInt("CAREBRIDGE_E2E_KILL_REPLIES", 40)
	rng := seededRNG(t)
	// History at the limits of a Marketplace app (Tier 3: 50 calls a
	// minute, pages up to 1,000), not the unlisted app's one call a
	// minute: after each of 6 kills every channel with rows left unknown
	// needs a history read, and at one a minute for the whole workspace
	// the run would take half an hour. The unlisted app's limit after a
	// crash is proven in process, on an accelerated clock, by
	// TestKillAtUnlistedHistoryLimits (e2e_unknown_test.go).
	w := newServeWorld(t, storeURL, serveWorldOptions{posts: nPosts, seed: rng.Uint64(), slack: []slackfake.Option{slackfake.WithMarketplaceHistory()}})
	posts := w.posts
	proc := w.serve()
	var kills []string
	killNow := func(phase string) {
		t.Helper()
		kill(proc)
		at := fmt.Sprintf("%s (t=%.1fs, %d bot messages, %d replies on X)", phase, time.Since(began).Seconds(), w.botMessages(), len(w.x.SentTweets()))
		kills = append(kills, at)
		t.Logf("SIGKILL %d: %s", len(kills), at)
		proc = w.serve()
	}

	// Ingest: 2 kills while the posts are being published, 100 ms apart
	// (half a minute for 300 posts, so that polls, mirrors and kills
	// interleave).
	ingestKills := sortedInts(rng, 2, len(posts)/20, len(posts)*19/20)
	for i, p := range posts {
		w.publish(p)
		time.Sleep(100 * time.Millisecond)
		if len(ingestKills) > 0 && i == ingestKills[0] {
			ingestKills = ingestKills[1:]
			time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
			killNow(fmt.Sprintf("ingest, %d of %d posts published", i+1, len(posts)))
		}
	}
	// Mirroring: 1 kill at a random mirror count of the backlog.
	for _, at := range sortedInts(rng, 1, len(posts)*3/10, len(posts)*19/20) {
		deadline := time.Now().Add(killWait())
		for w.tallyMirrors(posts).mirrored < at && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		killNow(fmt.Sprintf("mirroring, %d of %d posts mirrored", w.tallyMirrors(posts).mirrored, len(posts)))
	}
	w.waitMirrored(posts, killWait())
	t.Logf("all %d posts mirrored after %.1fs", len(posts), time.Since(began).Seconds())

	// Drafting: staff answer nReplies threads; 1 kill among the drafts.
	draftKill := 1 + rng.IntN(max(1, nReplies*9/10))
	replies := w.prepareReplies(rng, nReplies, killWait(), func(i int) {
		if i == draftKill {
			killNow(fmt.Sprintf("drafting, %d of %d drafts written", i, nReplies))
		}
	})
	// Sending: the manager approves all of them in one burst, as fast as
	// the fake delivers the events (each is acknowledged once stored in the
	// inbox, see docs/RELIABILITY.md); 2 kills at random counts of replies
	// on X.
	approved := make(chan struct{})
	go func() {
		defer close(approved)
		for _, r := range replies {
			if err := w.slack.UserReacts(r.channel, r.ts, manager, w.cfg.Approvals.ApproveEmoji); err != nil {
				t.Error(err)
			}
		}
	}()
	defer func() { <-approved }()
	for _, at := range sortedInts(rng, 2, 1, max(2, nReplies*9/10)) {
		deadline := time.Now().Add(killWait())
		for w.tallyReplies(replies).sent < at && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		killNow(fmt.Sprintf("sending, %d of %d replies on X", w.tallyReplies(replies).sent, len(replies)))
	}
	eventually(t, killWait(), "every reply sent", func() (bool, string) {
		c := w.tallyReplies(replies)
		return c.sent == len(replies), fmt.Sprintf("%d of %d sent", c.sent, len(replies))
	})
	w.waitMirrored(posts, killWait())
	// Anything still queued (a duplicate in the making) gets its chance.
	time.Sleep(3 * time.Second)

	mt, rt := w.tallyMirrors(posts), w.tallyReplies(replies)
	for _, id := range mt.doubledIDs {
		t.Errorf("post %s mirrored more than once", id)
	}
	if mt.lost+mt.doubled+rt.lost+rt.doubled > 0 {
		t.Errorf("posts: %+v; replies: %+v", mt, rt)
	}
	// Our own replies come back through the from: searches of the brands:
	// they must not be mirrored as customer posts.
	own := map[string]bool{}
	for _, r := range replies {
		own[r.text] = true
	}
	for _, ms := range w.mirrors() {
		for _, m := range ms {
			for text := range own {
				if strings.Contains(m.body, text) && !m.fyi {
					t.Errorf("our own reply %q was mirrored as a post", text)
				}
			}
		}
	}
	t.Logf("RESULT kill: %d posts (mirrored %d, lost %d, doubled %d), %d replies (sent %d, lost %d, doubled %d), %d SIGKILLs, %.0fs",
		mt.posts, mt.mirrored, mt.lost, mt.doubled, rt.replies, rt.sent, rt.lost, rt.doubled, len(kills), time.Since(began).Seconds())

	// Health endpoints answer, and SIGTERM shuts down cleanly.
	waitReady(t, w.addr, 30*time.Second)
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get("http://" + w.addr + path)
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("GET %s: %v %v", path, err, resp)
			continue
		}
		resp.Body.Close()
	}
	proc.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-proc.done:
		if err != nil {
			t.Errorf("serve exited with %v after SIGTERM", err)
		}
	case <-time.After(40 * time.Second):
		t.Error("serve did not stop within 40 s of SIGTERM")
	}
	logs, _ := os.ReadFile(w.logPath)
	if !strings.Contains(string(logs), "shutting down") {
		t.Error("no shutdown in the log")
	}
	for _, secret := range []string{w.slack.Identity().BotToken, w.slack.Identity().AppToken} {
		if strings.Contains(string(logs), secret) {
			t.Errorf("a token appears in the log")
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func killWait() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("CAREBRIDGE_E2E_KILL_WAIT")); err == nil {
		return d
	}
	return 3 * time.Minute
}

func dbDriver(url string) string {
	if strings.HasPrefix(url, "postgres") {
		return "postgres"
	}
	return "sqlite"
}

func dbDSN(url string) string {
	if strings.HasPrefix(url, "postgres") {
		return url
	}
	return "file:" + url + "?_pragma=busy_timeout(10000)"
}
