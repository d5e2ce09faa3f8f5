package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/carebridge/carebridge/adapters/file"
	slackad "github.com/carebridge/carebridge/adapters/slack"
	"github.com/carebridge/carebridge/adapters/slack/slackfake"
	"github.com/carebridge/carebridge/adapters/x/xfake"
	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/config"
	"github.com/carebridge/carebridge/examples"
	"github.com/carebridge/carebridge/store"
)

// The people of the demo workspace.
const (
	demoStaff   = "U0STAFF01"  // Aiko, network team
	demoManager = "U0MANAGER1" // Ken, network team lead (approver)
)

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", "[-chat slack|teams] [-keep] [-v]", "Runs the real service against in-process fakes of X and Slack and a SQLite file in a\ntemporary directory: sample posts in English, Japanese and Korean land in their\ndepartments' channels, a draft is checked, approved and sent publicly, another goes\nout by DM, and the audit trail is printed and verified. Needs no account and no configuration.", stderr)
	keep := fs.Bool("keep", false, "keep the temporary directory (the SQLite database) afterwards")
	verbose := fs.Bool("v", false, "show the service's logs")
	chat := fs.String("chat", "slack", "the chat surface: slack, or teams (a fake of Microsoft Teams; demo_teams.go)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *chat == "teams" {
		return runTeamsDemo(ctx, stdout, stderr, *keep, *verbose)
	}
	d, err := newDemo(ctx, stdout, stderr, *verbose)
	if err != nil {
		return err
	}
	defer d.close(*keep)
	return d.run(ctx)
}

// demo is one run of `carebridge demo`.
type demo struct {
	out     io.Writer
	dir     string
	x       *xfake.Server
	slack   *slackfake.Server
	cfg     *config.Config
	log     *slog.Logger
	stop    context.CancelFunc
	done    chan error
	tweetOf map[string]string // demo post id → tweet id
	step    int
	bsky    *demoBsky
	chart   string    // the executive chart's PNG, once saved
	feedURL string    // the fake forum's feed (demo_feed.go)
	meta    *metaDemo // Facebook and Instagram (demo_meta.go)
}

// newDemoBase is what every demo starts from, whatever the chat surface:
// a temporary directory, the log, the embedded example configuration and
// a fake X whose users are the example's official accounts, with user
// tokens it knows.
func newDemoBase(out, stderr io.Writer, verbose bool) (*demo, *config.Config, error) {
	dir, err := os.MkdirTemp("", "carebridge-demo-")
	if err != nil {
		return nil, nil, err
	}
	d := &demo{out: out, dir: dir, tweetOf: map[string]string{}, log: slog.New(slog.DiscardHandler)}
	if verbose {
		d.log = slog.New(slog.NewTextHandler(stderr, nil))
	}
	cfg, err := config.Parse(examples.Config, "examples/carebridge.yaml", config.LevelRouting, config.Options{
		Getenv: func(k string) (string, bool) { return "demo-" + strings.ToLower(k), true },
	})
	if err != nil {
		return nil, nil, fmt.Errorf("the embedded example configuration: %w", err)
	}
	xopts := []xfake.Option{xfake.WithKeepAlive(time.Second)}
	for i := range cfg.X.Accounts {
		a := &cfg.X.Accounts[i]
		a.OAuth1 = nil
		a.OAuth2 = &config.OAuth2{AccessToken: config.NewSecret("demo-user-token-" + a.UserID)}
		xopts = append(xopts, xfake.WithUserToken("demo-user-token-"+a.UserID, a.UserID))
	}
	d.x = xfake.New(xopts...)
	for _, a := range cfg.X.Accounts {
		d.x.AddUser(xfake.User{ID: a.UserID, Username: a.Handle, Name: a.Handle + " (official)"})
	}
	return d, cfg, nil
}

func newDemo(ctx context.Context, out, stderr io.Writer, verbose bool) (*demo, error) {
	d, cfg, err := newDemoBase(out, stderr, verbose)
	if err != nil {
		return nil, err
	}
	// Kinder than Slack on purpose: the demo shows the whole loop in a few
	// seconds and is no test (the tests hold the fake to Slack's limits).
	d.slack = slackfake.New(slackfake.WithChannelRateLimit(5, 5), slackfake.WithUnlimitedHistory())
	d.slack.AddUser(demoStaff, "aiko", false)
	d.slack.AddUser(demoManager, "ken", false)
	d.slack.AddUserGroup("S0NETLEADS", "network-leads", demoManager)
	for _, dep := range cfg.Departments {
		d.slack.AddChannel(demoChannelID(dep.Channel), strings.TrimPrefix(dep.Channel, "#"), demoStaff, demoManager)
	}
	if ch := cfg.Watch.Channel; ch != "" {
		d.slack.AddChannel(demoChannelID(ch), strings.TrimPrefix(ch, "#"), demoManager)
	}
	// A spike needs fewer posts in the demo than in production.
	cfg.Spikes.MinPosts = 8
	id := d.slack.Identity()
	cfg.Store.URL = config.NewSecret(filepath.Join(d.dir, "carebridge.db"))
	cfg.Slack.Mode = "socket"
	cfg.Slack.BotToken, cfg.Slack.AppToken = config.NewSecret(id.BotToken), config.NewSecret(id.AppToken)
	cfg.Slack.APIBaseURL = d.slack.APIURL()
	cfg.Slack.Pacing = config.Pacing{PerSecond: 5, Burst: 5}
	cfg.X.APIBaseURL = d.x.URL()
	cfg.X.BearerToken = config.NewSecret(xfake.DefaultAppToken)
	fast := config.Duration(300 * time.Millisecond)
	cfg.X.Poll.SearchInterval, cfg.X.Poll.MentionsInterval, cfg.X.Poll.DMInterval = fast, fast, fast
	for i := range cfg.X.Searches {
		cfg.X.Searches[i].Interval = fast
	}
	d.setupBluesky(cfg)
	d.feedURL = demoFeeds(ctx, cfg) // a forum's RSS feed (demo_feed.go)
	d.meta = newMetaDemo(cfg)
	d.cfg = cfg
	return d, nil
}

// demoChannelID makes a Slack-like channel id from a channel name.
func demoChannelID(name string) string {
	id := strings.ToUpper(regexp.MustCompile(`[^a-zA-Z0-9]`).ReplaceAllString(name, ""))
	return "C0" + id
}

func (d *demo) close(keep bool) {
	if d.stop != nil {
		d.stop()
		<-d.done
	}
	d.slack.Close()
	d.x.Close()
	d.closeBluesky()
	if keep {
		fmt.Fprintf(d.out, "\nThe demo's data is kept in %s (store.url: %s).\n", d.dir, filepath.Join(d.dir, "carebridge.db"))
		return
	}
	keepChartOnly(d.out, d.dir, d.chart)
}

func (d *demo) section(title string) {
	d.step++
	fmt.Fprintf(d.out, "\n%d. %s\n%s\n", d.step, title, strings.Repeat("─", len([]rune(title))+3))
}

func (d *demo) run(ctx context.Context) error {
	start := time.Now()
	fmt.Fprintln(d.out, "carebridge demo — the real service, a SQLite file, and in-process fakes of X and Slack.")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	a, err := newApp(ctx, d.cfg, appOptions{Logger: d.log, Listener: ln, PollInterval: 20 * time.Millisecond})
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	d.stop, d.done = cancel, make(chan error, 1)
	go func() { d.done <- a.run(runCtx) }()

	d.section("Customers post on X (English, Japanese, Korean)")
	posts, err := d.publish()
	if err != nil {
		return err
	}
	for _, p := range posts {
		fmt.Fprintf(d.out, "  @%-10s %s\n", p.AuthorHandle, oneLine(p.Text, 90))
	}

	d.section("carebridge routes each post to its department's Slack channel")
	if err := d.waitFor(ctx, 30*time.Second, "every post in Slack", func() bool { return len(d.mirrored()) >= len(posts) }); err != nil {
		return err
	}
	m := d.mirrored()
	for _, dep := range d.cfg.Departments {
		for _, p := range posts {
			if msg, ok := m[d.tweetOf[p.ExternalID]]; ok && msg.channel == demoChannelID(dep.Channel) {
				fmt.Fprintf(d.out, "  %-14s ← @%-10s %s\n", dep.Channel, p.AuthorHandle, oneLine(msg.text, 70))
			}
		}
	}
	fmt.Fprintln(d.out, "  (the <!channel> post is shown literally, escaped: it pings nobody)")

	network := demoChannelID("#care-network")
	parent := m[d.tweetOf["d1"]]

	d.section("Aiko answers in the thread; the answer is a draft until a manager approves it")
	answer := "Sorry for the trouble! Our engineers are repairing a base station in Shibuya; service should be back by 15:00."
	draftTS, err := d.slack.UserPosts(network, demoStaff, parent.ts, answer)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  Aiko (thread reply): %s\n", answer)
	if err := d.waitFor(ctx, 15*time.Second, "the ⏳ on the draft", func() bool { return hasReaction(d.slack.Reactions(network, draftTS), slackad.DraftMarks.Pending) }); err != nil {
		return err
	}
	fmt.Fprintln(d.out, "  carebridge: guards passed (length, personal data, reply eligibility) → ⏳ waiting for approval")
	if err := d.slack.UserReacts(network, draftTS, demoManager, d.cfg.Approvals.ApproveEmoji); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  Ken reacts :%s:\n", d.cfg.Approvals.ApproveEmoji)
	if err := d.waitFor(ctx, 15*time.Second, "the public reply on X", func() bool { return len(d.x.SentTweets()) >= 1 }); err != nil {
		return err
	}
	sent := d.x.SentTweets()[0]
	fmt.Fprintf(d.out, "  X: @SBCare replied to @kim_minji: %q\n", sent.Text)
	if err := d.waitFor(ctx, 15*time.Second, "the confirmation in the thread", func() bool { return d.threadHas(network, parent.ts, "Sent publicly") }); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  Slack thread: %s\n", d.threadLine(network, parent.ts, "Sent publicly"))

	d.section("Personal data never goes out publicly: the guard blocks it, a DM carries it")
	leak := "Please call our engineer directly at 090-1234-5678."
	if _, err := d.slack.UserPosts(network, demoStaff, parent.ts, leak); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  Aiko (thread reply): %s\n", leak)
	if err := d.waitFor(ctx, 15*time.Second, "the guard's explanation", func() bool { return d.threadHas(network, parent.ts, "can't go out") }); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  carebridge: %s\n", strings.ReplaceAll(d.threadLine(network, parent.ts, "can't go out"), "\n", "\n              "))
	dmText := "dm: Our engineer can call you at 090-1234-5678 — just reply with a good time."
	dmTS, err := d.slack.UserPosts(network, demoStaff, parent.ts, dmText)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  Aiko (thread reply): %s\n", dmText)
	if err := d.waitFor(ctx, 15*time.Second, "the DM draft", func() bool { return hasReaction(d.slack.Reactions(network, dmTS), slackad.DraftMarks.Pending) }); err != nil {
		return err
	}
	if err := d.slack.UserReacts(network, dmTS, demoManager, d.cfg.Approvals.ApproveEmoji); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  Ken reacts :%s:\n", d.cfg.Approvals.ApproveEmoji)
	if err := d.waitFor(ctx, 15*time.Second, "the DM on X", func() bool { return len(d.x.SentDMs()) >= 1 }); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  X: DM from @SBCare to @kim_minji: %q\n", d.x.SentDMs()[0].Text)
	if err := d.waitFor(ctx, 15*time.Second, "the DM confirmation", func() bool { return d.threadHas(network, parent.ts, "Sent by DM") }); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  Slack thread: %s\n", d.threadLine(network, parent.ts, "Sent by DM"))

	if err := d.feedStep(ctx); err != nil { // a forum post, listen only (demo_feed.go)
		return err
	}
	if err := d.watching(ctx, a); err != nil {
		return err
	}
	if err := d.metaStep(ctx, ln.Addr().String()); err != nil {
		return err
	}

	if err := d.bluesky(ctx); err != nil {
		return err
	}

	d.section("The audit trail: who wrote, who approved, what went out, where, when")
	time.Sleep(300 * time.Millisecond) // let the last reactions land
	d.stop()
	if err := <-d.done; err != nil {
		return err
	}
	d.stop = nil
	st, err := store.Open(ctx, d.cfg.Store.URL.Reveal(), store.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return err
	}
	defer st.Close()
	if err := eachAudit(ctx, st, bridge.AuditFilter{}, func(r bridge.AuditRecord) error {
		fmt.Fprintf(d.out, "  #%-3d %s  %-22s %-11s %s\n", r.Seq, r.At.In(d.cfg.Location).Format("15:04:05"), r.Kind, r.Actor, auditSummary(r))
		return nil
	}); err != nil {
		return err
	}
	fmt.Fprintln(d.out)
	var buf bytes.Buffer
	err = auditVerify(ctx, st, &buf)
	fmt.Fprint(d.out, buf.String())
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "\nThe whole loop took %s. Next: create a Slack app from examples/slack-app-manifest.yaml\nand run `carebridge serve -config your.yaml` (see README.md).\n", time.Since(start).Round(100*time.Millisecond))
	return nil
}

// publish puts the sample posts on the fake X.
func (d *demo) publish() ([]bridge.Post, error) {
	rd, err := file.NewReader(bytes.NewReader(examples.DemoPosts))
	if err != nil {
		return nil, err
	}
	var names map[string]string
	names = map[string]string{}
	for _, line := range bytes.Split(examples.DemoPosts, []byte("\n")) {
		var v struct{ ID, Name string }
		if json.Unmarshal(line, &v) == nil {
			names[v.ID] = v.Name
		}
	}
	var posts []bridge.Post
	for i := 0; ; i++ {
		p, _, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		uid := fmt.Sprintf("%d", 5000+i)
		d.x.AddUser(xfake.User{ID: uid, Username: p.AuthorHandle, Name: names[p.ExternalID]})
		t := d.x.AddTweet(xfake.Tweet{AuthorID: uid, Text: p.Text, Lang: p.Lang})
		d.tweetOf[p.ExternalID] = t.ID
		posts = append(posts, p)
	}
	return posts, nil
}

type demoMirror struct{ channel, ts, text string }

var demoStatus = regexp.MustCompile(`https://x\.com/[A-Za-z0-9_]+/status/([0-9]+)`)

// mirrored maps tweet ids to the parent messages that show them.
func (d *demo) mirrored() map[string]demoMirror {
	out := map[string]demoMirror{}
	for _, dep := range d.cfg.Departments {
		ch := demoChannelID(dep.Channel)
		for _, msg := range d.slack.Messages(ch) {
			if !msg.FromBot() || msg.ThreadTS != "" {
				continue
			}
			body := demoSections(msg.Blocks)
			if strings.HasPrefix(body, "FYI") {
				continue
			}
			if id := demoStatus.FindStringSubmatch(body); id != nil {
				lines := strings.SplitN(body, "\n", 2)
				text := body
				if len(lines) == 2 {
					text = lines[1]
				}
				out[id[1]] = demoMirror{channel: ch, ts: msg.TS, text: slackad.Unescape(text)}
			}
		}
	}
	return out
}

func demoSections(raw json.RawMessage) string {
	var blocks []struct {
		Type string `json:"type"`
		Text struct {
			Text string `json:"text"`
		} `json:"text"`
	}
	_ = json.Unmarshal(raw, &blocks)
	var parts []string
	for _, b := range blocks {
		if b.Type == "section" {
			parts = append(parts, b.Text.Text)
		}
	}
	return strings.Join(parts, "\n")
}

func (d *demo) threadHas(channel, ts, want string) bool { return d.threadLine(channel, ts, want) != "" }

func (d *demo) threadLine(channel, ts, want string) string {
	for _, msg := range d.slack.Thread(channel, ts) {
		if msg.FromBot() && strings.Contains(msg.Text, want) {
			return msg.Text
		}
	}
	return ""
}

func (d *demo) waitFor(ctx context.Context, timeout time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("demo: gave up waiting for %s after %s (run with -v to see the service's logs)", what, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

func hasReaction(list []string, name string) bool {
	for _, r := range list {
		if r == name {
			return true
		}
	}
	return false
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// auditSummary is one readable line of an audit record's details.
func auditSummary(r bridge.AuditRecord) string {
	var m map[string]any
	_ = json.Unmarshal(r.Details, &m)
	var parts []string
	for _, k := range []string{"platform", "visibility", "emoji", "guards", "kinds", "account", "url", "platform_id", "reason", "error", "kind", "current", "baseline", "new", "answered", "waiting", "departments", "purpose"} {
		if v, ok := m[k]; ok && v != "" && v != nil {
			parts = append(parts, fmt.Sprintf("%s=%v", k, v))
		}
	}
	if t, ok := m["text"].(string); ok {
		parts = append(parts, fmt.Sprintf("text=%q", oneLine(t, 40)))
	}
	return strings.Join(parts, " ")
}
