package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carebridge/carebridge/adapters/slack/slackfake"
	"github.com/carebridge/carebridge/adapters/x/xfake"
	"github.com/carebridge/carebridge/bridge/config"
)

// cliWorld is a configuration file for serve-level commands, pointing at
// fakes of Slack and X and a SQLite file of the test's own.
type cliWorld struct {
	slack    *slackfake.Server
	x        *xfake.Server
	dir      string
	storeURL string // default: a SQLite file in dir
}

func newCLIWorld(t *testing.T) *cliWorld {
	t.Helper()
	w := &cliWorld{slack: slackfake.New(), x: xfake.New(xfake.WithUserToken("token-9000000", "9000000")), dir: t.TempDir()}
	t.Cleanup(w.slack.Close)
	t.Cleanup(w.x.Close)
	w.x.AddUser(xfake.User{ID: "9000000", Username: "SBCare"})
	return w
}

// config writes a configuration and returns its path; edit changes the
// YAML before it is written.
func (w *cliWorld) config(t *testing.T, edit func(string) string) string {
	t.Helper()
	id := w.slack.Identity()
	src := fmt.Sprintf(`departments:
  - id: network
    channel: "#care-network"
    approvers: [U0MANAGER1]
  - id: triage
    channel: "#care-triage"
    approval: none
routes:
  - department: network
    keywords: [signal]
triage: triage
store:
  url: %q
slack:
  bot_token: %s
  app_token: %s
  api_base_url: %s
x:
  api_base_url: %s
  bearer_token: %s
  accounts:
    - handle: SBCare
      user_id: "9000000"
      oauth2:
        access_token: token-9000000
`, w.store(), id.BotToken, id.AppToken, w.slack.APIURL(), w.x.URL(), xfake.DefaultAppToken)
	if edit != nil {
		src = edit(src)
	}
	path := filepath.Join(w.dir, fmt.Sprintf("cb-%d.yaml", time.Now().UnixNano()))
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (w *cliWorld) store() string {
	if w.storeURL != "" {
		return w.storeURL
	}
	return filepath.Join(w.dir, "cb.db")
}

func replace(old, new string) func(string) string {
	return func(s string) string { return strings.Replace(s, old, new, 1) }
}

// A DNS failure, a refused connection or a timeout is not the token's
// fault: serve says it cannot reach Slack; a token Slack refuses is named.
func TestServeStartupSaysWhySlackFailed(t *testing.T) {
	w := newCLIWorld(t)
	start := func(edit func(string) string) error {
		t.Helper()
		cfg, err := config.Load(w.config(t, edit), config.LevelServe)
		if err != nil {
			t.Fatal(err)
		}
		a, err := newApp(context.Background(), cfg, appOptions{Logger: slog.New(slog.DiscardHandler)})
		if err == nil {
			a.store.Close()
		}
		return err
	}
	err := start(replace(w.slack.APIURL(), "http://127.0.0.1:1/api/"))
	if err == nil || !strings.Contains(err.Error(), "slack: cannot reach Slack at http://127.0.0.1:1/api/ (auth.test)") || strings.Contains(err.Error(), "refused (auth") {
		t.Errorf("connection refused: %v", err)
	}
	err = start(replace(w.slack.Identity().BotToken, "xoxb-not-the-fakes-token"))
	if err == nil || err.Error() != "slack: the bot token (slack.bot_token) was refused (auth.test): invalid_auth" {
		t.Errorf("wrong token: %v", err)
	}
	if err := start(nil); err != nil {
		t.Errorf("good configuration: %v", err)
	}

	// Errors as the resolver and the dialer give them.
	for _, e := range []error{
		&url.Error{Op: "Post", URL: "https://slack.com/api/auth.test", Err: &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "slack.com", IsNotFound: true}}},
		fmt.Errorf("wrapped: %w", &net.DNSError{Err: "server misbehaving", Name: "api.x.com", IsTemporary: true}),
		context.DeadlineExceeded,
	} {
		if !unreachable(e) {
			t.Errorf("unreachable(%v) = false", e)
		}
	}
	if unreachable(errors.New("invalid_auth")) {
		t.Error("an answer from Slack counted as unreachable")
	}
}

func TestCheckOnline(t *testing.T) {
	for kind, storeURL := range storeKinds(t) {
		t.Run(kind, func(t *testing.T) { testCheckOnline(t, kind, storeURL(t)) })
	}
}

func testCheckOnline(t *testing.T, dialect, storeURL string) {
	w := newCLIWorld(t)
	w.storeURL = storeURL
	good := w.config(t, nil)
	if code, out, errs := carebridge(t, "", "migrate", "-config", good); code != 0 {
		t.Fatalf("migrate: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs := carebridge(t, "", "check", "-online", "-config", good)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"\nOnline:\n",
		"  ok   store            " + dialect + " answers\n",
		"  ok   slack bot token  team ",
		"  ok   slack app token  ",
		"  ok   x bearer token   reads work (GET /2/users/by/username/SBCare)\n",
		"  ok   x @SBCare        user context works (GET /2/users/me: user 9000000)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// Everything wrong at once: an unreachable database, tokens the
	// platforms refuse, an account's token that is someone else's.
	w.x.AddUserToken("token-other", "9000001")
	w.x.AddUser(xfake.User{ID: "9000001", Username: "someone"})
	bad := w.config(t, func(s string) string {
		s = replace(fmt.Sprintf("url: %q", w.store()), `url: "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"`)(s)
		s = replace(w.slack.Identity().BotToken, "xoxb-refused")(s)
		s = replace(w.slack.Identity().AppToken, "xapp-refused")(s)
		s = replace("bearer_token: "+xfake.DefaultAppToken, "bearer_token: SECRET-bearer")(s)
		return s
	})
	code, out, _ = carebridge(t, "", "check", "-online", "-config", bad)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	for _, want := range []string{
		"  FAIL store            cannot open the store: ",
		"  FAIL slack bot token  slack: the bot token (slack.bot_token) was refused (auth.test): invalid_auth\n",
		"  FAIL slack app token  slack: the app-level token (slack.app_token) was refused (apps.connections.open): invalid_auth\n",
		"  FAIL x bearer token   x: the app bearer token (x.bearer_token): GET /2/users/by/username/SBCare: x permanent error 401",
		"  FAIL x @SBCare        not checked: an OAuth 2.0 account's current tokens are in the store\n",
		"5 online checks failed\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "SECRET-bearer") || strings.Contains(out, "xoxb-refused") || strings.Contains(out, "xapp-refused") {
		t.Errorf("a token is printed:\n%s", out)
	}
	other := w.config(t, replace("access_token: token-9000000", "access_token: token-other"))
	code, out, _ = carebridge(t, "", "check", "-online", "-config", other)
	if code != 1 || !strings.Contains(out, "  FAIL x @SBCare        the credentials are @someone's (user id 9000001), not user_id 9000000\n") {
		t.Errorf("someone else's token: exit %d\n%s", code, out)
	}
}

// Flags whose usage has no value name, usage lines that show every flag,
// and no argument silently ignored.
func TestCommandLines(t *testing.T) {
	code, _, errs := carebridge(t, "", "check", "-h")
	if code != 0 || !strings.Contains(errs, "Usage: carebridge check -config FILE [-serve] [-online]\n") ||
		!regexp.MustCompile(`(?m)^  -serve\n`).MatchString(errs) || !regexp.MustCompile(`(?m)^  -online\n`).MatchString(errs) {
		t.Errorf("check -h: exit %d\n%s", code, errs)
	}
	if _, out, _ := carebridge(t, "", "-h"); !strings.Contains(out, "check    -config FILE [-serve] [-online]\n") {
		t.Errorf("carebridge -h:\n%s", out)
	}
	cfg := newCLIWorld(t).config(t, nil)
	// -serve says what it did not try.
	if code, out, _ := carebridge(t, "", "check", "-serve", "-config", cfg); code != 0 || !strings.Contains(out, "(checked offline: -online also tries") {
		t.Errorf("check -serve: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{
		{"check", "-config", cfg, "extra"},
		{"check", "-serve", "-config", cfg, "extra"},
		{"serve", "-config", cfg, "extra"},
		{"migrate", "-config", cfg, "extra"},
		{"audit", "verify", "-config", cfg, "extra"},
		{"audit", "export", "-config", cfg, "extra"},
		{"demo", "extra"},
		{"version", "extra"},
	} {
		code, out, errs := carebridge(t, "", args...)
		if code != 2 || !strings.Contains(errs, `unexpected argument "extra"`) || !strings.Contains(errs, "Usage: carebridge "+args[0]) {
			t.Errorf("%q: exit %d\n%s%s", args, code, out, errs)
		}
	}
}

func TestAuditCommandLine(t *testing.T) {
	cfg := newCLIWorld(t).config(t, nil)
	code, out, _ := carebridge(t, "", "audit", "-h")
	if code != 0 || !strings.Contains(out, "carebridge audit verify -config FILE") {
		t.Errorf("audit -h: exit %d\n%s", code, out)
	}
	code, _, errs := carebridge(t, "", "audit", "frobnicate")
	if code != 2 || !strings.Contains(errs, `unknown subcommand "frobnicate"`) {
		t.Errorf("audit frobnicate: exit %d\n%s", code, errs)
	}
	code, _, errs = carebridge(t, "", "audit", "verify", "-h")
	if code != 0 || strings.Contains(errs, "-format") || strings.Contains(errs, "-department") || !strings.Contains(errs, "-config") {
		t.Errorf("audit verify -h lists export's flags: exit %d\n%s", code, errs)
	}
	if code, _, _ := carebridge(t, "", "audit", "verify", "-format", "csv", "-config", cfg); code != 2 {
		t.Errorf("audit verify -format: exit %d, want 2", code)
	}
	code, out, errs = carebridge(t, "", "audit", "export", "-department", "nosuch", "-config", cfg)
	if code != 1 || out != "" || !strings.Contains(errs, `unknown department "nosuch": not in `) || !strings.Contains(errs, "(network, triage)") {
		t.Errorf("unknown department: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = carebridge(t, "", "audit", "export", "-department", "network", "-config", cfg)
	if code != 0 || out != "" || !strings.Contains(errs, "no records match") {
		t.Errorf("known department, no records: exit %d\n%s%s", code, out, errs)
	}
}

func TestMigrateReportsWhatItApplied(t *testing.T) {
	for dialect, storeURL := range storeKinds(t) {
		t.Run(dialect, func(t *testing.T) {
			w := newCLIWorld(t)
			w.storeURL = storeURL(t)
			cfg := w.config(t, nil)
			code, out, errs := carebridge(t, "", "migrate", "-config", cfg)
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, out, errs)
			}
			applied := strings.Count(out, "applied 0")
			if applied < 7 || !strings.HasSuffix(out, fmt.Sprintf("%s store is up to date (%d migrations applied)\n", dialect, applied)) {
				t.Errorf("first run:\n%s", out)
			}
			if code, out, _ := carebridge(t, "", "migrate", "-config", cfg); code != 0 || out != dialect+" store is up to date (no migration to apply)\n" {
				t.Errorf("second run: exit %d\n%s", code, out)
			}
		})
	}
}

// twcsCSV is a small file in the TWCS layout: customers' posts and the
// brand's replies (inbound = False).
const twcsCSV = `tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id
1,cust1,True,Tue Oct 31 22:10:47 +0000 2017,@SBCare no signal since this morning,2,
2,SBCare,False,Tue Oct 31 22:11:47 +0000 2017,@cust1 Sorry about the signal! Which area?,,1.0
3,cust2,True,Tue Oct 31 22:12:47 +0000 2017,my bill is wrong,4,
4,SBCare,False,Tue Oct 31 22:13:47 +0000 2017,@cust2 Thanks! Let us check your bill,,3.0
5,cust3,True,Tue Oct 31 22:14:47 +0000 2017,hello there,,
`

func TestRouteSummaryCountsCustomersOnly(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "twcs.csv")
	if err := os.WriteFile(in, []byte(twcsCSV), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := carebridge(t, "", "route", "-summary", "-config", exampleConfig, in)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(out, "\n")
	col := strings.Index(lines[0], "POSTS") + len("POSTS") // right edge of the column
	rows := map[string]string{}
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) > 1 && len(l) >= col && l[col-1] != ' ' {
			rows[strings.TrimSpace(l[:col])] = strings.TrimSpace(l[col:])
		}
	}
	for label, posts := range map[string]string{"network": "1", "billing": "1", "triage (triage)": "1", "TOTAL": "3"} {
		var found bool
		for k := range rows {
			if strings.HasPrefix(k, label) && strings.HasSuffix(k, " "+posts) {
				found = true
			}
		}
		if !found {
			t.Errorf("no row %q with %s posts aligned under POSTS:\n%s", label, posts, out)
		}
	}
	if !strings.Contains(out, "not counted: 2 company replies (TWCS inbound = False)\n") {
		t.Errorf("company replies not reported:\n%s", out)
	}
	code, out, errs = carebridge(t, "", "route", "-config", exampleConfig, in)
	if code != 0 || strings.Count(out, "\n") != 3 || strings.Contains(out, `"id":"2"`) || !strings.Contains(errs, "2 company replies (inbound = False) skipped; 3 customer posts routed") {
		t.Errorf("JSON lines: exit %d\n%s%s", code, out, errs)
	}
}

func TestRouteSummaryLargeCounts(t *testing.T) {
	cfg, err := config.Load(exampleConfig, config.LevelRouting)
	if err != nil {
		t.Fatal(err)
	}
	tl := newTally(cfg)
	tl.total, tl.unmatched = 1_234_567, 1_000_000
	tl.count["network"], tl.count[cfg.Triage] = 234_567, 1_000_000
	var b bytes.Buffer
	tl.print(&b, time.Second)
	lines := strings.Split(b.String(), "\n")
	edge := strings.Index(lines[0], "POSTS") + len("POSTS")
	for _, want := range []string{"network", "triage (triage)", "TOTAL"} {
		for _, l := range lines {
			if strings.HasPrefix(l, want+" ") {
				num := map[string]string{"network": "234,567", "triage (triage)": "1,000,000", "TOTAL": "1,234,567"}[want]
				if i := strings.Index(l, num); i < 0 || i+len(num) != edge {
					t.Errorf("%s row does not end %s under POSTS:\n%s", want, num, b.String())
				}
			}
		}
	}
	if thousands(999) != "999" || thousands(1000) != "1,000" || thousands(-1234567) != "-1,234,567" {
		t.Errorf("thousands: %s %s %s", thousands(999), thousands(1000), thousands(-1234567))
	}
}

// On a slow pipe, progress shows while the command waits for input, and
// the elapsed time counts the wait.
func TestRouteProgressOnSlowInput(t *testing.T) {
	var offset atomic.Int64
	base := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	oldNow, oldEvery := routeNow, progressEvery
	routeNow = func() time.Time { return base.Add(time.Duration(offset.Load())) }
	progressEvery = 5 * time.Millisecond
	defer func() { routeNow, progressEvery = oldNow, oldEvery }()

	r, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdin
	os.Stdin = r
	defer func() { os.Stdin = old; r.Close() }()
	var stdout, stderr syncBuffer
	done := make(chan int)
	go func() {
		done <- run(context.Background(), []string{"route", "-summary", "-config", exampleConfig, "-"}, &stdout, &stderr)
	}()

	lines := strings.SplitAfter(twcsCSV, "\n")
	pw.WriteString(lines[0] + lines[1])
	waitFor := func(what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(stderr.String(), what) {
			if time.Now().After(deadline) {
				t.Fatalf("stderr never showed %q:\n%s", what, stderr.String())
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitFor("route: 0 posts from standard input in 0s (0/s)…") // the clock started
	offset.Store(int64(90 * time.Second))
	waitFor("route: 0 posts from standard input in 1m30s (0/s, waiting for input)…")
	pw.WriteString(strings.Join(lines[2:], ""))
	offset.Store(int64(3 * time.Minute))
	pw.Close()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "; routed in 3m0s\n") {
		t.Errorf("elapsed time:\n%s", stdout.String())
	}
}

// The README's transcript of `check -config broken.yaml` is the real
// output for the example with the three mistakes of
// TestCheckReportsEveryMistake (a README line may shorten with "…").
func TestReadmeCheckTranscript(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```\n\\$ carebridge check -config broken.yaml\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README has no transcript of carebridge check -config broken.yaml")
	}
	want := strings.Split(strings.TrimSuffix(string(m[1]), "\n"), "\n")
	data, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	src := string(data)
	for _, r := range [][2]string{
		{"  - department: billing\n", "  - department: billling\n"},
		{`digest_time: "09:00"`, `digest_time: "9am"`},
		{"  enterprise: false\n", "  enterprise: false\n  enterprize: true\n"},
	} {
		src = strings.Replace(src, r[0], r[1], 1)
	}
	path := filepath.Join(t.TempDir(), "broken.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	_, out, _ := carebridge(t, "", "check", "-config", path)
	got := strings.Split(strings.TrimSuffix(strings.ReplaceAll(out, path, "broken.yaml"), "\n"), "\n")
	if len(got) != len(want) {
		t.Fatalf("README shows %d lines, check prints %d:\n%s", len(want), len(got), out)
	}
	for i := range want {
		parts := strings.Split(want[i], "…")
		ok := strings.HasPrefix(got[i], parts[0]) && strings.HasSuffix(got[i], parts[len(parts)-1])
		if !ok {
			t.Errorf("README line %d:\n  %s\ncheck prints:\n  %s", i+1, want[i], got[i])
		}
	}
}
