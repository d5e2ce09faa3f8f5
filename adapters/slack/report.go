package slack

import (
	"context"
	"strings"

	"github.com/slack-go/slack"

	"github.com/carebridge/carebridge/bridge"
)

// resolveRefs turns report items that point at a chat message into
// permalinks. A failure leaves the item unlinked: a digest without a link
// is better than no digest.
func (p *Publisher) resolveRefs(ctx context.Context, r *bridge.Report) {
	for i := range r.Sections {
		for j := range r.Sections[i].Items {
			it := &r.Sections[i].Items[j]
			if it.Ref == nil || it.URL != "" || it.Ref.Channel == "" || it.Ref.TS == "" {
				continue
			}
			if link, err := p.Permalink(ctx, *it.Ref); err == nil {
				it.URL = link
			}
		}
	}
}

// mention renders a user group (S…) or user (U…/W…) mention.
func mention(id string) string {
	switch {
	case id == "" || !validID(id):
		return ""
	case strings.HasPrefix(id, "S"):
		return "<!subteam^" + id + ">"
	default:
		return "<@" + id + ">"
	}
}

func validID(id string) bool {
	for _, c := range id {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// renderReport lays a bridge.Report out as Block Kit, compact enough to
// read at a glance on a phone: a header, a context line, then per section
// a bold heading, its fields two by two, a bulleted list and quoted posts.
// Every text is escaped.
func (p *Publisher) renderReport(msg bridge.ChatMessage) (string, []slack.Block) {
	r := msg.Report
	if r == nil {
		return "(empty report)", nil
	}
	md := func(s string) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
	}
	var blocks []slack.Block
	blocks = append(blocks, slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, truncate(r.Title, 150), false, false)))
	var ctx []string
	if m := mention(r.Mention); m != "" {
		ctx = append(ctx, m)
	}
	if r.Subtitle != "" {
		ctx = append(ctx, Escape(r.Subtitle))
	}
	if len(ctx) > 0 {
		blocks = append(blocks, slack.NewContextBlock("", md(strings.Join(ctx, " · "))))
	}
	fallback := Escape(r.Title)
	for _, sec := range r.Sections {
		if sec.Heading != "" || sec.Text != "" {
			var lines []string
			if sec.Heading != "" {
				lines = append(lines, "*"+Escape(sec.Heading)+"*")
			}
			if sec.Text != "" {
				lines = append(lines, Escape(sec.Text))
			}
			blocks = append(blocks, slack.NewSectionBlock(md(strings.Join(lines, "\n")), nil, nil))
		}
		for i := 0; i < len(sec.Fields); i += 10 { // Slack allows 10 fields per section
			var fields []*slack.TextBlockObject
			for _, f := range sec.Fields[i:min(i+10, len(sec.Fields))] {
				fields = append(fields, md("*"+Escape(f.Label)+"*\n"+Escape(f.Value)))
			}
			blocks = append(blocks, slack.NewSectionBlock(nil, fields, nil))
		}
		if len(sec.Items) > 0 {
			var lines []string
			for _, it := range sec.Items {
				text := Escape(it.Text)
				if it.URL != "" && safeURL(it.URL) {
					text = "<" + it.URL + "|" + strings.ReplaceAll(text, "|", "¦") + ">"
				}
				lines = append(lines, "• "+text)
			}
			for _, c := range chunks(strings.Join(lines, "\n"), 2900) {
				blocks = append(blocks, slack.NewSectionBlock(md(c), nil, nil))
			}
		}
		for i := range sec.Posts {
			post := &sec.Posts[i]
			body := p.authorLine(post, false) + "\n" + quote(Escape(truncate(bodyText(post.Text), 600)))
			if post.Title != "" {
				body = titleLine(post) + "\n" + body
			}
			blocks = append(blocks, slack.NewSectionBlock(md(body), nil, nil))
		}
	}
	if msg.Report.Mention != "" {
		fallback = mention(r.Mention) + " " + fallback
	}
	return fallback, blocks
}
