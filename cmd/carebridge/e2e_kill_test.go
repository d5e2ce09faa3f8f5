package main

import (
	"fmt"
	"github.com/jmoiron/sqlx"
	"math/rand/v2"
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

// TestServeKilledMidReplay kills `carebridge serve` with SIGKILL at random
// moments of a replay and restarts it: afterwards every post is in Slack
// exactly once. A last SIGTERM shows the graceful shutdown.
func TestServeKilledMidReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	for name, storeURL := range storeKinds(t) {
		t.Run(name, func(t *testing.T) {
			testServeKilled(t, storeURL(t))
		})
	}
}

func testServeKilled(t *testing.T, storeURL string) {
	posts := loadTWCS(t, 300)
	brands := brandsOf(posts)
	var froms []string
	seen := map[string]bool{}
	for _, p := range posts {
		if !seen[p.author] {
			seen[p.author] = true
			if strings.Trim(p.author, "0123456789") == "" {
				froms = append(froms, "from:u"+p.author)
			} else {
				froms = append(froms, "from:"+p.author)
			}
		}
	}
	var searches []string
	for len(froms) > 0 {
		n := min(len(froms), 30)
		searches = append(searches, strings.Join(froms[:n], " OR "))
		froms = froms[n:]
	}
	// Reconciliation reads Slack history, which Slack allows an unlisted
	// app once a minute; lifting that keeps the test short.
	h := newHarness(t, storeURL, harnessOptions{brands: brands, searches: searches,
		extra: "", slack: []slackfake.Option{slackfake.WithUnlimitedHistory()}})
	// serve needs a fixed port: take a free one.
	h.cfgSrc = strings.Replace(h.cfgSrc, "addr: 127.0.0.1:0", "addr: "+freeAddr(t), 1)
	if err := os.WriteFile(h.configPath(), []byte(h.cfgSrc), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(h.dir, "serve.log")
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := os.ReadFile(logPath)
			lines := strings.Split(string(logs), "\n")
			var bad []string
			for _, l := range lines {
				if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
					bad = append(bad, l)
				}
			}
			if db, err := sqlx.Open(dbDriver(h.store), dbDSN(h.store)); err == nil {
				var posts, tickets int
				db.Get(&posts, "SELECT count(*) FROM posts")
				db.Get(&tickets, "SELECT count(*) FROM tickets")
				rows, _ := db.Queryx("SELECT state, count(*) FROM outbox GROUP BY state")
				states := map[string]int{}
				for rows != nil && rows.Next() {
					var st string
					var n int
					rows.Scan(&st, &n)
					states[st] = n
				}
				var cursors []string
				db.Select(&cursors, "SELECT name || '=' || value FROM poll_cursors")
				t.Logf("store: %d posts, %d tickets, outbox %v, cursors %v", posts, tickets, states, cursors)
				db.Close()
			}
			t.Logf("serve warnings and errors (%d of %d lines):\n%s\nlast lines:\n%s", len(bad), len(lines), strings.Join(bad[max(0, len(bad)-40):], "\n"), strings.Join(lines[max(0, len(lines)-15):], "\n"))
		}
	})
	proc := startServe(t, h.configPath(), logPath)

	rng := rand.New(rand.NewPCG(7, 11))
	kills := 0
	for i, p := range posts {
		h.publish(p)
		time.Sleep(3 * time.Millisecond)
		if i > 0 && i%60 == 0 {
			time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
			proc.cmd.Process.Signal(syscall.SIGKILL)
			<-proc.done
			kills++
			proc = startServe(t, h.configPath(), logPath)
		}
	}
	eventually(t, killWait(), "every post mirrored after the kills", func() (bool, string) {
		n := 0
		for _, ms := range h.mirrors() {
			for _, m := range ms {
				if !m.fyi {
					n++
					break
				}
			}
		}
		return n >= len(posts), fmt.Sprintf("%d of %d", n, len(posts))
	})
	time.Sleep(time.Second)
	m := h.mirrors()
	doubled := 0
	for _, p := range posts {
		own := 0
		for _, x := range m[h.ids[p.ExternalID]] {
			if !x.fyi {
				own++
			}
		}
		if own != 1 {
			doubled++
			t.Errorf("post %s mirrored %d times", p.ExternalID, own)
		}
	}
	t.Logf("%d posts, %d SIGKILLs, %d lost or doubled", len(posts), kills, doubled)

	// Health endpoints answer, and SIGTERM shuts down cleanly.
	addr := strings.TrimPrefix(strings.SplitN(strings.SplitN(h.cfgSrc, "addr: ", 2)[1], "\n", 2)[0], "")
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		var resp *http.Response
		var err error
		for i := 0; i < 50; i++ {
			if resp, err = http.Get("http://" + addr + path); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
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
	logs, _ := os.ReadFile(logPath)
	if !strings.Contains(string(logs), "shutting down") {
		t.Error("no shutdown in the log")
	}
	for _, secret := range []string{h.slack.Identity().BotToken, h.slack.Identity().AppToken} {
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
