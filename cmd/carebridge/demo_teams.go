package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/carebridge/carebridge/adapters/teams/teamsfake"
	"github.com/carebridge/carebridge/adapters/x/xfake"
	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/config"
	"github.com/carebridge/carebridge/store"
)

// teamsDemo is `carebridge demo -chat teams`: the Slack demo's loop on
// the Teams fake. It reuses the Slack demo's X side, its sample posts and
// its printing (section, waitFor, publish) and replaces the chat side.
type teamsDemo struct {
	*demo
	teams    *teamsfake.Server
	aiko     teamsfake.User // staff, network team
	ken      teamsfake.User // network team lead, approver
	channels map[string]string
	names    map[string]string // channel id → "#name"
}

// runTeamsDemo runs the Teams demo.
func runTeamsDemo(ctx context.Context, stdout, stderr io.Writer, keep, verbose bool) error {
	d, err := newTeamsDemo(stdout, stderr, verbose)
	if err != nil {
		return err
	}
	defer d.close(keep)
	return d.run(ctx)
}

func newTeamsDemo(out, stderr io.Writer, verbose bool) (*teamsDemo, error) {
	base, cfg, err := newDemoBase(out, stderr, verbose)
	if err != nil {
		return nil, err
	}
	d := &teamsDemo{demo: base, channels: map[string]string{}, names: map[string]string{}}

	// The Teams fake holds carebridge to Teams' limits (7 messages a
	// second and 60 in 30 seconds per thread, counted per channel); the
	// demo's pacing is set just inside them rather than at the hourly
	// 1,800, so that the loop shows in seconds.
	d.teams = teamsfake.New()
	d.aiko, d.ken = d.teams.AddUser("Aiko"), d.teams.AddUser("Ken")
	id := d.teams.Identity()
	t := config.Teams{AppID: id.AppID, TenantID: id.TenantID, ClientSecret: config.NewSecret(id.ClientSecret),
		ServiceURL: d.teams.ServiceURL(), TokenURL: d.teams.TokenURL(), OpenIDURL: d.teams.OpenIDMetadataURL(), GraphURL: d.teams.GraphURL(),
		Pacing: config.Pacing{PerSecond: 1.7, Burst: 7}}
	for _, dep := range cfg.Departments {
		name := strings.TrimPrefix(dep.Channel, "#")
		ch := d.teams.AddChannel(name)
		d.channels[dep.ID], d.names[ch] = ch, "#"+name
		td := config.TeamsDepartment{Department: dep.ID, Team: id.TeamGroupID, Channel: ch}
		if dep.Approval == config.ApprovalRequired {
			td.Approvers = []string{d.ken.AADObjectID}
		}
		if dep.ID == "network" {
			td.Escalation = &config.TeamsEscalation{Tag: "TmV0d29ya09uQ2FsbA", Name: "network-oncall"}
		}
		t.Departments = append(t.Departments, td)
	}
	if w := strings.TrimPrefix(cfg.Watch.Channel, "#"); w != "" {
		ch := d.teams.AddChannel(w)
		d.channels["watch"], d.names[ch] = ch, "#"+w
		t.Watch = config.TeamsChannel{Team: id.TeamGroupID, Channel: ch}
	}
	if err := cfg.UseTeams(t, config.LevelServe); err != nil {
		return nil, fmt.Errorf("the demo's Teams configuration: %w", err)
	}
	// A spike needs fewer posts in the demo than in production.
	cfg.Spikes.MinPosts = 8
	cfg.Store.URL = config.NewSecret(filepath.Join(d.dir, "carebridge.db"))
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.X.APIBaseURL = d.x.URL()
	cfg.X.BearerToken = config.NewSecret(xfake.DefaultAppToken)
	fast := config.Duration(300 * time.Millisecond)
	cfg.X.Poll.SearchInterval, cfg.X.Poll.MentionsInterval, cfg.X.Poll.DMInterval = fast, fast, fast
	for i := range cfg.X.Searches {
		cfg.X.Searches[i].Interval = fast
	}
	d.cfg = cfg
	return d, nil
}

func (d *teamsDemo) close(keep bool) {
	if d.stop != nil {
		d.stop()
		<-d.done
	}
	d.teams.Close()
	d.x.Close()
	if keep {
		fmt.Fprintf(d.out, "\nThe demo's data is kept in %s (store.url: %s).\n", d.dir, filepath.Join(d.dir, "carebridge.db"))
		return
	}
	os.RemoveAll(d.dir)
}

func (d *teamsDemo) run(ctx context.Context) error {
	start := time.Now()
	fmt.Fprintln(d.out, "carebridge demo -chat teams — the real service, a SQLite file, and in-process fakes of X and Microsoft Teams.")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	a, err := newApp(ctx, d.cfg, appOptions{Logger: d.log, Listener: ln, PollInterval: 20 * time.Millisecond})
	if err != nil {
		return err
	}
	d.teams.SetEndpoint("http://" + ln.Addr().String() + d.cfg.Teams.Endpoint)
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

	d.section("carebridge opens a thread per conversation in its department's Teams channel")
	roots := map[string]teamsfake.Message{} // tweet id → thread root
	if err := d.waitFor(ctx, 30*time.Second, "every post in Teams", func() bool {
		for _, ch := range d.channels {
			for _, m := range d.teams.Posts(ch) {
				for _, tw := range d.tweetOf {
					if m.FromBot && strings.Contains(string(m.Card), "/status/"+tw+`"`) {
						roots[tw] = m
					}
				}
			}
		}
		return len(roots) >= len(posts)
	}); err != nil {
		return err
	}
	for _, dep := range d.cfg.Departments {
		for _, p := range posts {
			if m, ok := roots[d.tweetOf[p.ExternalID]]; ok && m.ChannelID == d.channels[dep.ID] {
				fmt.Fprintf(d.out, "  %-14s ← @%-10s %s\n", d.names[m.ChannelID], p.AuthorHandle, oneLine(p.Text, 70))
			}
		}
	}
	fmt.Fprintln(d.out, "  (the <!channel> post is shown as plain text: on Teams, customer text never mentions anyone)")
	network := d.channels["network"]
	parent := roots[d.tweetOf["d1"]]
	d.box("The first thread in "+d.names[network], parent)

	d.section("Aiko answers in the thread; carebridge echoes the draft as a card for approvers")
	answer := "Sorry for the trouble! Our engineers are repairing a base station in Shibuya; service should be back by 15:00."
	if _, err := d.teams.UserReplies(ctx, d.aiko, network, parent.ID, answer, false); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  Aiko (thread reply): %s\n", answer)
	card, err := d.waitCard(ctx, network, parent.ID, answer)
	if err != nil {
		return err
	}
	d.box("carebridge's draft card (guards passed: length, personal data, reply eligibility)", card)
	if _, err := d.teams.UserClicks(ctx, d.ken, card.ID, "Approve"); err != nil {
		return err
	}
	fmt.Fprintln(d.out, "  Ken presses [Approve] on the card")
	if err := d.waitFor(ctx, 15*time.Second, "the public reply on X", func() bool { return len(d.x.SentTweets()) >= 1 }); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  X: @SBCare replied to @kim_minji: %q\n", d.x.SentTweets()[0].Text)
	if err := d.waitCardSays(ctx, card.ID, "Sent publicly"); err != nil {
		return err
	}
	c, _ := d.teams.Message(card.ID)
	d.box("The card, updated with the outcome and who decided", c)

	d.section("Personal data never goes out publicly: the guard blocks it, a DM carries it")
	leak := "Please call our engineer directly at 090-1234-5678."
	if _, err := d.teams.UserReplies(ctx, d.aiko, network, parent.ID, leak, false); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  Aiko (thread reply): %s\n", leak)
	blocked, err := d.waitLine(ctx, network, parent.ID, "can't go out")
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  carebridge (no card: nobody is asked to approve it):\n%s\n", indent(blocked, "    "))
	dmText := "dm: Our engineer can call you at 090-1234-5678 — just reply with a good time."
	if _, err := d.teams.UserReplies(ctx, d.aiko, network, parent.ID, dmText, false); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  Aiko (thread reply): %s\n", dmText)
	dmCard, err := d.waitCard(ctx, network, parent.ID, "090-1234-5678 — just reply")
	if err != nil {
		return err
	}
	if _, err := d.teams.UserReacts(ctx, d.ken, dmCard.ID, d.cfg.Teams.ApproveReaction); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  Ken reacts %s (%s) on the DM draft's card\n", teamsReactionEmoji(d.cfg.Teams.ApproveReaction), d.cfg.Teams.ApproveReaction)
	if err := d.waitFor(ctx, 15*time.Second, "the DM on X", func() bool { return len(d.x.SentDMs()) >= 1 }); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  X: DM from @SBCare to @kim_minji: %q\n", d.x.SentDMs()[0].Text)
	line, err := d.waitLine(ctx, network, parent.ID, "Sent by DM")
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  Teams thread: %s\n", line)

	if err := d.watchingTeams(ctx, a); err != nil {
		return err
	}

	d.section("The audit trail: who wrote, who approved, what went out, where, when")
	time.Sleep(300 * time.Millisecond) // let the last card updates land
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
	people := map[string]string{d.aiko.AADObjectID: "Aiko", d.ken.AADObjectID: "Ken"}
	if err := eachAudit(ctx, st, bridge.AuditFilter{}, func(r bridge.AuditRecord) error {
		actor := r.Actor
		if n, ok := people[actor]; ok {
			actor = n
		}
		fmt.Fprintf(d.out, "  #%-3d %s  %-22s %-11s %s\n", r.Seq, r.At.In(d.cfg.Location).Format("15:04:05"), r.Kind, actor, auditSummary(r))
		return nil
	}); err != nil {
		return err
	}
	fmt.Fprintln(d.out)
	var buf strings.Builder
	err = auditVerify(ctx, st, &buf)
	fmt.Fprint(d.out, buf.String())
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "\nThe whole loop took %s. Next: register a bot in Azure, upload examples/teams-app/manifest.json\nto your team and run `carebridge serve -config your.yaml` with chat: teams (see README.md, \"Microsoft Teams\").\n",
		time.Since(start).Round(100*time.Millisecond))
	return nil
}

// watchingTeams shows a spike alert, a department digest and the
// executive digest as Teams receives them.
func (d *teamsDemo) watchingTeams(ctx context.Context, a *app) error {
	if err := d.spike(ctx, a); err != nil {
		return err
	}
	if err := d.printTeamsReport(ctx, d.channels["watch"], "Spike"); err != nil {
		return err
	}

	d.section("The network team's digest (due at 12:00 and 18:00; here, now)")
	if _, err := a.watcher.Digest(ctx, "network"); err != nil {
		return err
	}
	if err := d.printTeamsReport(ctx, d.channels["network"], "digest"); err != nil {
		return err
	}

	d.section("The executive digest in the watch channel (daily; here, now)")
	if _, err := a.watcher.ExecDigest(ctx); err != nil {
		return err
	}
	return d.printTeamsReport(ctx, d.channels["watch"], "daily watch")
}

// printTeamsReport waits for a new thread of the bot in channel whose
// first line contains title and prints it.
func (d *teamsDemo) printTeamsReport(ctx context.Context, channel, title string) error {
	var msg teamsfake.Message
	err := d.waitFor(ctx, 30*time.Second, "the "+title+" message in Teams", func() bool {
		posts := d.teams.Posts(channel)
		for i := len(posts) - 1; i >= 0; i-- {
			if posts[i].FromBot && strings.Contains(strings.ToLower(firstLine(posts[i].Plain())), strings.ToLower(title)) {
				msg = posts[i]
				return true
			}
		}
		return false
	})
	if err != nil {
		return err
	}
	d.box(d.names[channel], msg)
	return nil
}

// waitCard waits for the draft card of text (still waiting for a
// decision) in a thread.
func (d *teamsDemo) waitCard(ctx context.Context, channel, root, text string) (teamsfake.Message, error) {
	var card teamsfake.Message
	err := d.waitFor(ctx, 15*time.Second, "the draft card", func() bool {
		for _, m := range d.teams.Thread(channel, root) {
			if m.FromBot && len(m.Card) > 0 && len(m.Buttons()) > 0 && strings.Contains(m.Plain(), text) {
				card = m
				return true
			}
		}
		return false
	})
	return card, err
}

// waitCardSays waits until a card reads want.
func (d *teamsDemo) waitCardSays(ctx context.Context, id, want string) error {
	return d.waitFor(ctx, 15*time.Second, "the card's outcome", func() bool {
		m, ok := d.teams.Message(id)
		return ok && strings.Contains(m.Plain(), want)
	})
}

// waitLine waits for a line of the bot in a thread containing want.
func (d *teamsDemo) waitLine(ctx context.Context, channel, root, want string) (string, error) {
	var line string
	err := d.waitFor(ctx, 15*time.Second, "a line with "+want, func() bool {
		for _, m := range d.teams.Thread(channel, root) {
			if m.FromBot && !m.IsRoot() && len(m.Card) == 0 && strings.Contains(m.Plain(), want) {
				line = m.Plain()
				return true
			}
		}
		return false
	})
	return line, err
}

// box prints a Teams message as a person reads it.
func (d *teamsDemo) box(title string, m teamsfake.Message) {
	fmt.Fprintf(d.out, "  %s:\n", title)
	for _, l := range strings.Split(m.Plain(), "\n") {
		fmt.Fprintf(d.out, "  │ %s\n", l)
	}
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// teamsReactionEmoji shows one of Teams' reaction types.
func teamsReactionEmoji(r string) string {
	return map[string]string{"like": "👍", "heart": "❤️", "laugh": "😆", "surprised": "😮", "sad": "😢", "angry": "😡"}[r]
}
