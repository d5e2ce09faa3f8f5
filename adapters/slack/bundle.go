package slack

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/carebridge/carebridge/bridge"
)

// bundleEntryBytes bounds the escaped post text of one bundle entry, so
// that the entry's section stays under Slack's 3,000 characters with its
// author line and context.
const bundleEntryBytes = 2200

// renderBundle lays out a bundle: a header, then one section per post —
// author line, the post (escaped, cut at bundleEntryBytes with a note),
// matched keywords, reply eligibility and the customer's history — with
// an Answer button beside it (none on our own accounts' posts).
func (p *Publisher) renderBundle(msg bridge.ChatMessage) (string, []slack.Block) {
	n := len(msg.Bundle)
	head := fmt.Sprintf(":package: *%d new posts* for %s, shown together while the channel is busy. Press *Answer* on a post to give it its own thread; mentions, DMs and replies in threads are not bundled.",
		n, Escape(msg.DeptName))
	blocks := []slack.Block{slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, head, false, false), nil, nil)}
	var fb []string
	for _, e := range msg.Bundle {
		if e.Post == nil {
			continue
		}
		var info []string
		if t := e.Ticket; t != nil && len(t.Matched) > 0 {
			info = append(info, "Matched: "+codeList(t.Matched))
		}
		if e.Answers != "" {
			info = append(info, ":speech_balloon: "+Escape(e.Answers)) // the network's own words
		} else {
			info = append(info, eligibilityLine(e.Post, e.Ticket, e.Answerable))
		}
		if e.History != "" {
			info = append(info, "Customer: "+Escape(e.History))
		}
		if e.AfterHours != "" {
			info = append(info, Escape(e.AfterHours))
		}
		// Slack refuses a section over 3,000 characters: cut the post
		// shorter until the entry fits (quoting adds to every line).
		var text string
		for limit := bundleEntryBytes; ; limit /= 2 {
			text = strings.Join([]string{p.authorLine(e.Post, e.Official), quote(entryText(e.Post.Text, limit)), strings.Join(info, " · ")}, "\n")
			if utf8.RuneCountInString(text) <= 2990 || limit < 100 {
				break
			}
		}
		var accessory *slack.Accessory
		if !e.Official && e.Value != "" {
			accessory = slack.NewAccessory(answerButton(e.Value))
		}
		blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, text, false, false), nil, accessory))
		who := "@" + e.Post.AuthorHandle
		if e.Post.AuthorHandle == "" {
			who = e.Post.AuthorName
		}
		fb = append(fb, Shown(who)+": "+Shown(truncate(e.Post.Text, 80)))
	}
	fallback := fmt.Sprintf("%d new posts for %s: %s", n, msg.DeptName, strings.Join(fb, " · "))
	return truncate(fallback, 3000), blocks
}

// entryText is a post's text as a bundle shows it: hidden controls made
// visible, escaped, cut at limit bytes with a note of what is left.
func entryText(text string, limit int) string {
	cs := chunks(Shown(bodyText(text)), limit)
	if len(cs) <= 1 {
		return strings.Join(cs, "")
	}
	left := utf8.RuneCountInString(Unescape(strings.Join(cs[1:], "")))
	return cs[0] + fmt.Sprintf(" _… %d more characters: press Answer to see the whole post._", left)
}

// earlierLine links the first post of a conversation that was shown in
// a bundle, on the parent a follow-up opened.
func earlierLine(e *bridge.Post) string {
	who := "the customer"
	if e.AuthorHandle != "" && validHandle(e.AuthorHandle) {
		who = "@" + e.AuthorHandle
	}
	link := "first post"
	if e.URL != "" && safeURL(e.URL) {
		link = "<" + e.URL + "|first post>"
	}
	return fmt.Sprintf("Follow-up: %s's %s was shown in a bundle — “%s”", who, link, Shown(truncate(e.Text, 200)))
}

// Update implements bridge.MessageUpdater with chat.update: the message
// is rendered again (a channel's traffic status, say).
func (p *Publisher) Update(ctx context.Context, ref bridge.ChatRef, msg bridge.ChatMessage) error {
	fallback, blocks := p.render(msg)
	_, _, _, err := p.api.UpdateMessageContext(ctx, ref.Channel, ref.TS,
		slack.MsgOptionText(fallback, false), slack.MsgOptionBlocks(blocks...))
	return Classify(err)
}

var _ bridge.MessageUpdater = (*Publisher)(nil)

// RendersBundles implements bridge.BundleRenderer: Slack shows bundles
// with Block Kit buttons.
func (p *Publisher) RendersBundles() bool { return true }

var _ bridge.BundleRenderer = (*Publisher)(nil)
