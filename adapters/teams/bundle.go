package teams

import (
	"context"
	"fmt"
	"strings"

	"github.com/carebridge/carebridge/bridge"
)

// Bundles on Teams: while a channel's queue is too deep for its pace, the
// relay shows several new posts in one MessageBundle. It is one Adaptive
// Card: a header, then per post a Container holding the author line, the
// post's text (cut to fit), the matched keywords and reply eligibility as
// TextRuns, and an ActionSet with an Answer button (Action.Submit whose
// data is {"carebridge": "answer", "value": BundleEntry.Value}) and a
// link to the post. The Handler turns the Answer button into
// bridge.EventAction "answer". The channel's traffic status
// (MessageStatus) is a plain message, rewritten in place by Update.

// cardValueKey carries a bundle entry's value in its Answer button's data.
const cardValueKey = "value"

// bundleEntryBytes is the most of a post's text one bundle entry shows
// (UTF-8 bytes); renderBundle shows less when the bundle would not fit
// in one Teams message otherwise.
const bundleEntryBytes = 2000

// renderBundle lays out a bundle so that it fits in one message: the
// entries' texts are cut shorter and shorter, and for the largest
// bundles history, after-hours notes and the link button are left out,
// but no entry is ever dropped (the relay marks every entry shown).
func (p *Publisher) renderBundle(msg bridge.ChatMessage) (*activity, error) {
	n := max(len(msg.Bundle), 1)
	limit := min(bundleEntryBytes, maxActivityBytes/(2*n))
	for compact := false; ; {
		act := p.bundleCard(msg, limit, compact)
		size, err := activitySize(act)
		if err != nil {
			return nil, &bridge.SendError{Platform: "teams", Code: "encode", Permanent: true, Err: err}
		}
		switch {
		case size <= maxActivityBytes:
			return act, nil
		case limit > 200 || compact && limit > 40:
			limit /= 2
		case !compact:
			compact, limit = true, 200
		default:
			return nil, &bridge.SendError{Platform: "teams", Code: "MessageSizeTooBig", Permanent: true,
				Err: fmt.Errorf("a bundle of %d posts is %d bytes, over Teams' limit, even cut short", len(msg.Bundle), size)}
		}
	}
}

// bundleCard is the card of a bundle with each post's text cut to limit
// bytes. Compact is the layout of the largest bundles: per post one
// RichTextBlock (the author's name linking to the post, the text, the
// keywords and eligibility) and the Answer button, without history,
// after-hours note, time or link button.
func (p *Publisher) bundleCard(msg bridge.ChatMessage, limit int, compact bool) *activity {
	var c cardBuilder
	c.rich(run{Text: fmt.Sprintf("📦 %d new posts for ", len(msg.Bundle)), Bold: true}, run{Text: ShowControls(msg.DeptName), Bold: true},
		run{Text: ", shown together while the channel is busy. Press Answer on a post to give it its own thread; mentions, DMs and replies in threads are not bundled.", Subtle: true})
	for _, e := range msg.Bundle {
		if e.Post == nil {
			continue
		}
		info := ""
		if t := e.Ticket; t != nil && len(t.Matched) > 0 {
			info = "Matched: " + ShowControls(strings.Join(t.Matched, ", ")) + " · "
		}
		if e.Answers != "" {
			info += "💬 " + ShowControls(e.Answers) // the network's own words
		} else {
			info += eligibilityLine(e.Post, e.Ticket)
		}
		var answer []any
		if !e.Official && e.Value != "" {
			answer = append(answer, map[string]any{"type": "Action.Submit", "title": "Answer",
				"data": map[string]any{cardActionKey: bridge.ActionAnswer, cardValueKey: e.Value}})
		}
		if compact {
			// As few runs and attributes as can be: the fixed cost of an
			// entry, not its text, is what fills the message.
			text, left := cutBytes(ShowControls(bodyText(e.Post.Text)), limit)
			if left > 0 {
				text += "…"
			}
			rest := "\n" + text + "\n" + truncate(info, 80)
			if h := e.Post.AuthorHandle; h != "" {
				rest = " @" + ShowControls(truncate(h, 30)) + rest
			}
			c.rich(p.compactName(e.Post, e.Official), run{Text: rest}) // the ActionSet under it parts it from the next
			if len(answer) > 0 {
				c.body = append(c.body, map[string]any{"type": "ActionSet", "actions": answer})
			}
			continue
		}
		var items []any
		add := func(runs ...run) {
			if b := richBlock("", runs); b != nil {
				items = append(items, b)
			}
		}
		add(p.authorRuns(e.Post, e.Official)...)
		add(bodyRuns(e.Post, limit)...)
		add(run{Text: info, Subtle: true})
		if e.History != "" {
			add(run{Text: "Customer: ", Subtle: true}, run{Text: ShowControls(e.History), Subtle: true})
		}
		if e.AfterHours != "" {
			add(run{Text: "🌙 " + ShowControls(e.AfterHours), Subtle: true})
		}
		actions := answer
		if u := e.Post.URL; u != "" && safeURL(u) {
			actions = append(actions, map[string]any{"type": "Action.OpenUrl", "title": "View on " + platformName(e.Post.Platform), "url": u})
		}
		if len(actions) > 0 {
			items = append(items, map[string]any{"type": "ActionSet", "actions": actions})
		}
		c.body = append(c.body, map[string]any{"type": "Container", "separator": true, "items": items})
	}
	return cardActivity(&c, fmt.Sprintf("%d new posts, shown together", len(msg.Bundle)))
}

// compactName is the author's name (cut to 20 characters), bold,
// linking to the post.
func (p *Publisher) compactName(post *bridge.Post, official bool) run {
	name := post.AuthorName
	if name == "" {
		name = post.AuthorHandle
	}
	if name == "" {
		name = post.AuthorID
	}
	name = ShowControls(truncate(name, 20))
	if official {
		name = "🏢 " + name
	}
	return run{Text: name, Bold: true, URL: post.URL}
}

// renderStatus is a channel's traffic status line: carebridge's own
// notice markup (msg.Text), as a plain message.
func (p *Publisher) renderStatus(ctx context.Context, msg bridge.ChatMessage) *activity {
	text, ents := translateMarkup(msg.Text, p.resolver(ctx, msg.Channel))
	return &activity{Type: "message", TextFormat: "xml", Text: text, Entities: ents}
}

// RendersBundles implements bridge.BundleRenderer: Teams shows bundles
// as Adaptive Cards with an Answer button per post.
func (p *Publisher) RendersBundles() bool { return true }

var _ bridge.BundleRenderer = (*Publisher)(nil)
