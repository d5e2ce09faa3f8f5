package teams

import (
	"context"
	"fmt"
	"strings"

	"github.com/carebridge/carebridge/bridge"
)

// bodyBytes bounds a customer's text in one card (UTF-8 bytes). JSON may
// double it (quotes, backslashes), and the whole message must stay under
// Teams' ~28 KB; a longer post is cut with a note, the link leads to the
// whole of it.
const bodyBytes = 11000

// platformName is a network's name for people ("x" → "X").
func platformName(p bridge.Platform) string {
	s := string(p)
	switch {
	case s == "":
		return "the network"
	case len(s) <= 2:
		return strings.ToUpper(s)
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// authorRuns is "[🏢 Official account] Name @handle · on X · 2026-11-20 09:30".
func (p *Publisher) authorRuns(post *bridge.Post, official bool) []run {
	var runs []run
	if official {
		runs = append(runs, run{Text: "🏢 Official account "})
	}
	name := post.AuthorName
	if name == "" {
		name = post.AuthorHandle
	}
	if name == "" {
		name = post.AuthorID
	}
	runs = append(runs, run{Text: ShowControls(name), Bold: true})
	if post.AuthorHandle != "" && post.AuthorHandle != name {
		runs = append(runs, run{Text: " @" + ShowControls(post.AuthorHandle), Subtle: true})
	}
	meta := " · on " + platformName(post.Platform)
	if post.IsDM() {
		meta = " · DM on " + platformName(post.Platform)
	}
	if !post.CreatedAt.IsZero() {
		meta += " · " + post.CreatedAt.In(p.cfg.Location).Format("2006-01-02 15:04")
	}
	return append(runs, run{Text: meta, Subtle: true})
}

// bodyRuns is a post's text as written (hidden controls made visible), cut
// to bodyBytes with a note.
func bodyRuns(post *bridge.Post, limit int) []run {
	text := post.Text
	if strings.TrimSpace(text) == "" {
		return []run{{Text: "(no text)", Italic: true, Subtle: true}}
	}
	text, left := cutBytes(ShowControls(text), limit)
	runs := []run{{Text: text}}
	if left > 0 {
		runs = append(runs, run{Text: fmt.Sprintf("\n… %d more characters not shown here: the whole post is on %s (link below).", left, platformName(post.Platform)), Italic: true, Subtle: true})
	}
	return runs
}

func eligibilityLine(post *bridge.Post, t *bridge.Ticket) string {
	account := ""
	if t != nil && t.Account != "" {
		account = " as @" + t.Account
	}
	switch post.Eligibility {
	case bridge.EligiblePublic:
		return "💬 Public reply possible" + account
	case bridge.EligibleDM:
		return "✉️ Direct message — answers go back by DM" + account
	default:
		return "🔒 DM only (or answer in the " + platformName(post.Platform) + " app): a public reply through the API is not possible"
	}
}

// renderPost is a ticket's first post (with matched keywords, reply
// eligibility, customer history) or a later post of its conversation.
func (p *Publisher) renderPost(ctx context.Context, msg bridge.ChatMessage) *activity {
	post := msg.Post
	var c cardBuilder
	if post == nil {
		c.rich(run{Text: "(missing post)", Italic: true})
		return cardActivity(&c, "A post")
	}
	if msg.Kind == bridge.MessageReply {
		c.rich(run{Text: "↪ Later in this conversation", Subtle: true})
	}
	c.rich(p.authorRuns(post, msg.Official)...)
	c.rich(bodyRuns(post, bodyBytes)...)
	if msg.Kind == bridge.MessageParent {
		if t := msg.Ticket; t != nil && len(t.Matched) > 0 {
			c.rich(run{Text: "Matched: ", Subtle: true}, run{Text: ShowControls(strings.Join(t.Matched, ", ")), Subtle: true})
		}
		c.rich(run{Text: eligibilityLine(post, msg.Ticket), Subtle: true})
		if msg.History != "" {
			c.rich(run{Text: "Customer: ", Subtle: true}, run{Text: ShowControls(msg.History), Subtle: true})
		}
		if msg.AfterHours != "" {
			c.rich(run{Text: "🌙 " + ShowControls(msg.AfterHours), Subtle: true})
		}
		if e := msg.Earlier; e != nil {
			who := "the customer"
			if e.AuthorHandle != "" {
				who = "@" + ShowControls(e.AuthorHandle)
			}
			c.rich(run{Text: "Follow-up: " + who + "'s ", Subtle: true}, run{Text: "first post", Subtle: true, URL: e.URL},
				run{Text: " was shown in a bundle — “", Subtle: true}, run{Text: ShowControls(truncate(bodyText(e.Text), 200)), Subtle: true}, run{Text: "”", Subtle: true})
		}
		if msg.OpenedBy != "" {
			c.rich(run{Text: "Opened from a bundle by ", Subtle: true}, run{Text: ShowControls(p.nameOf(ctx, msg.Channel, msg.OpenedBy)), Subtle: true, Bold: true},
				run{Text: " to answer it: reply in this thread.", Subtle: true})
		}
	}
	what := "post"
	if post.IsDM() {
		what = "DM"
	}
	c.link("View the "+what+" on "+platformName(post.Platform), post.URL)
	return cardActivity(&c, summaryOf(msg))
}

// summaryOf is the notification preview: no customer text, so that it
// needs no escaping wherever Teams shows it.
func summaryOf(msg bridge.ChatMessage) string {
	post := msg.Post
	if post == nil {
		return "carebridge"
	}
	what := "New post"
	switch {
	case msg.Kind == bridge.MessageReply:
		what = "Reply"
	case msg.Kind == bridge.MessageFYI:
		what = "FYI"
	case post.IsDM():
		what = "New DM"
	}
	s := what + " on " + platformName(post.Platform)
	if validHandle(post.AuthorHandle) {
		s += " from @" + post.AuthorHandle
	}
	return s
}

// renderFYI is a short copy of a post in another department's channel.
func (p *Publisher) renderFYI(msg bridge.ChatMessage) *activity {
	owner := msg.OwnerName
	if owner == "" && msg.Ticket != nil {
		owner = msg.Ticket.Department
	}
	var c cardBuilder
	c.rich(run{Text: "FYI — owned by "}, run{Text: ShowControls(owner), Bold: true})
	if post := msg.Post; post != nil {
		c.rich(p.authorRuns(post, msg.Official)...)
		c.rich(run{Text: ShowControls(truncate(bodyText(post.Text), 600))})
	}
	c.link("Open the thread", msg.OwnerLink)
	if msg.Post != nil {
		c.link("View on "+platformName(msg.Post.Platform), msg.Post.URL)
	}
	return cardActivity(&c, summaryOf(msg))
}

// renderDraft is the card approvers act on: who drafted it, how it would
// go out, the text, and Approve / Send as DM / Reject while it waits; once
// decided, the outcome and who decided, without buttons.
func (p *Publisher) renderDraft(ctx context.Context, msg bridge.ChatMessage) *activity {
	d := msg.Draft
	var c cardBuilder
	if d == nil {
		c.rich(run{Text: "(missing draft)", Italic: true})
		return cardActivity(&c, "Draft")
	}
	c.rich(run{Text: fmt.Sprintf("📝 Draft #%d by ", d.DraftID), Bold: true}, run{Text: ShowControls(p.nameOf(ctx, msg.Channel, d.Author)), Bold: true})
	how := "Public reply"
	if d.DM {
		how = "Direct message"
	}
	if d.Account != "" {
		how += " as @" + d.Account
	}
	how += " on " + platformName(d.Platform)
	c.rich(run{Text: how, Subtle: true})
	text, left := cutBytes(ShowControls(d.Text), bodyBytes)
	c.rich(run{Text: text})
	if left > 0 {
		c.rich(run{Text: fmt.Sprintf("… %d more characters", left), Italic: true, Subtle: true})
	}
	if d.Outcome == "" {
		c.rich(run{Text: "Waiting for approval.", Subtle: true})
		c.submit("Approve", ActionApprove, d.DraftID, "positive")
		if !d.DM {
			c.submit("Send as DM", ActionApproveDM, d.DraftID, "")
		}
		c.submit("Reject", ActionReject, d.DraftID, "destructive")
		return cardActivity(&c, fmt.Sprintf("Draft #%d waits for approval", d.DraftID))
	}
	runs := []run{{Text: ShowControls(d.Outcome), Bold: true}}
	if d.DecidedBy != "" {
		runs = append(runs, run{Text: " — decided by "}, run{Text: ShowControls(p.nameOf(ctx, msg.Channel, d.DecidedBy)), Bold: true})
	}
	c.rich(runs...)
	return cardActivity(&c, fmt.Sprintf("Draft #%d: %s", d.DraftID, d.Outcome))
}

// renderReport lays a bridge.Report out as a card: a title, the mention
// and subtitle, then per section a bold heading, its text, its fields as
// "Label: value" lines, a bulleted list (linked where it has a link) and
// quoted posts.
func (p *Publisher) renderReport(ctx context.Context, msg bridge.ChatMessage) *activity {
	r := msg.Report
	var c cardBuilder
	if r == nil {
		c.rich(run{Text: "(empty report)", Italic: true})
		return cardActivity(&c, "Report")
	}
	// Report strings are carebridge's own words, which may carry the
	// core's :shortcodes:; customers' words come only in sec.Posts.
	own := func(s string) string { return translateEmoji(ShowControls(s)) }
	c.richSized("Large", run{Text: own(truncate(r.Title, 150)), Bold: true})
	if r.Mention != "" && validChatID(r.Mention) {
		res := p.resolver(ctx, msg.Channel)
		markup := "<@" + r.Mention + ">"
		if _, ok := p.cfg.Tags[r.Mention]; ok {
			markup = "<!subteam^" + r.Mention + ">"
		}
		text, ents := translateMarkup(markup, res)
		c.mentionBlock(text, ents)
	}
	if r.Subtitle != "" {
		c.rich(run{Text: own(r.Subtitle), Subtle: true})
	}
	for _, sec := range r.Sections {
		if sec.Heading != "" {
			c.rich(run{Text: own(sec.Heading), Bold: true})
		}
		if sec.Text != "" {
			c.rich(run{Text: own(sec.Text)})
		}
		if len(sec.Fields) > 0 {
			var runs []run
			for i, f := range sec.Fields {
				sep := ""
				if i > 0 {
					sep = "\n"
				}
				runs = append(runs, run{Text: sep + own(f.Label) + ": ", Bold: true}, run{Text: own(f.Value)})
			}
			c.rich(runs...)
		}
		if len(sec.Items) > 0 {
			var runs []run
			for i, it := range sec.Items {
				sep := ""
				if i > 0 {
					sep = "\n"
				}
				u := it.URL
				if u == "" && it.Ref != nil && it.Ref.Channel != "" && it.Ref.TS != "" {
					u, _ = p.Permalink(ctx, *it.Ref)
				}
				runs = append(runs, run{Text: sep + "• "}, run{Text: own(it.Text), URL: u})
			}
			c.rich(runs...)
		}
		for i := range sec.Posts {
			post := &sec.Posts[i]
			c.rich(p.authorRuns(post, false)...)
			c.rich(run{Text: "“" + ShowControls(truncate(bodyText(post.Text), 600)) + "”", Italic: true})
		}
	}
	return cardActivity(&c, truncate(own(r.Title), 100))
}

// translateEmoji turns the core's :shortcodes: in plain report text into
// Unicode (report strings are plain text otherwise).
func translateEmoji(s string) string {
	if !strings.Contains(s, ":") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, ':')
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i+1:], ':')
		if j <= 0 {
			break
		}
		if e, ok := emoji[s[i+1:i+1+j]]; ok {
			b.WriteString(s[:i] + e)
			s = s[i+j+2:]
			continue
		}
		b.WriteString(s[:i+1])
		s = s[i+1:]
	}
	b.WriteString(s)
	return b.String()
}

func cardActivity(c *cardBuilder, summary string) *activity {
	return &activity{Type: "message", Summary: summary, Attachments: []attachment{c.attachment()}}
}

func bodyText(s string) string {
	if strings.TrimSpace(s) == "" {
		return "(no text)"
	}
	return s
}

func validHandle(h string) bool {
	if len(h) == 0 || len(h) > 30 {
		return false
	}
	for _, c := range h {
		if !(c == '_' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
