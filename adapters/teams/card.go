package teams

import (
	"strconv"
	"strings"
)

// Adaptive Cards carry everything carebridge mirrors. Text that comes from
// outside (a customer's post, a name, a keyword, a draft) goes only into
// TextRun elements of a RichTextBlock: a TextRun is shown as plain text,
// with no markdown and no HTML, so nothing in it can format, link or
// mention. Only carebridge's own mentions go into a TextBlock, as
// <at>Name</at> with their entity in msteams.entities.

const (
	cardContentType = "application/vnd.microsoft.card.adaptive"
	cardVersion     = "1.5"
)

// cardBuilder assembles an Adaptive Card.
type cardBuilder struct {
	body     []any
	actions  []any
	entities []entity
}

// run is one TextRun.
type run struct {
	Text   string
	Bold   bool
	Subtle bool
	Italic bool
	URL    string // makes the run a link (https only)
}

func (r run) json() map[string]any {
	m := map[string]any{"type": "TextRun", "text": r.Text}
	if r.Bold {
		m["weight"] = "Bolder"
	}
	if r.Subtle {
		m["isSubtle"] = true
	}
	if r.Italic {
		m["italic"] = true
	}
	if r.URL != "" && safeURL(r.URL) {
		m["selectAction"] = map[string]any{"type": "Action.OpenUrl", "url": r.URL}
	}
	return m
}

// rich adds a RichTextBlock of runs.
func (c *cardBuilder) rich(runs ...run) {
	c.richSized("", runs...)
}

func (c *cardBuilder) richSized(size string, runs ...run) {
	if b := richBlock(size, runs); b != nil {
		c.body = append(c.body, b)
	}
}

// richBlock is a RichTextBlock of the non-empty runs (nil if none).
func richBlock(size string, runs []run) map[string]any {
	var inl []any
	for _, r := range runs {
		if r.Text == "" {
			continue
		}
		m := r.json()
		if size != "" {
			m["size"] = size
		}
		inl = append(inl, m)
	}
	if len(inl) == 0 {
		return nil
	}
	return map[string]any{"type": "RichTextBlock", "inlines": inl}
}

// mentionBlock adds a TextBlock holding already-translated text with its
// mention entities (translateMarkup output, whose other text is escaped).
func (c *cardBuilder) mentionBlock(text string, ents []entity) {
	c.body = append(c.body, map[string]any{"type": "TextBlock", "text": text, "wrap": true})
	c.entities = append(c.entities, ents...)
}

// link adds an Action.OpenUrl button (https only).
func (c *cardBuilder) link(title, url string) {
	if url == "" || !safeURL(url) {
		return
	}
	c.actions = append(c.actions, map[string]any{"type": "Action.OpenUrl", "title": title, "url": url})
}

// submit adds an Action.Submit button whose data names the action.
func (c *cardBuilder) submit(title, action string, draftID int64, style string) {
	a := map[string]any{
		"type": "Action.Submit", "title": title,
		"data": map[string]any{cardActionKey: action, cardDraftKey: strconv.FormatInt(draftID, 10)},
	}
	if style != "" {
		a["style"] = style
	}
	c.actions = append(c.actions, a)
}

// attachment returns the card as an activity attachment.
func (c *cardBuilder) attachment() attachment {
	ms := map[string]any{"width": "Full"}
	if len(c.entities) > 0 {
		ms["entities"] = c.entities
	}
	card := map[string]any{
		"type":    "AdaptiveCard",
		"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
		"version": cardVersion,
		"body":    c.body,
		"msteams": ms,
	}
	if len(c.actions) > 0 {
		card["actions"] = c.actions
	}
	return attachment{ContentType: cardContentType, Content: card}
}

// The data of the draft card's Action.Submit buttons: {"carebridge":
// "approve"|"approve_dm"|"reject", "draft": "42"}; a bundle's Answer
// button's: {"carebridge": "answer", "value": "t1.p2.o3"} (bundle.go).
const (
	cardActionKey = "carebridge"
	cardDraftKey  = "draft"

	ActionApprove   = "approve"    // the Approve button
	ActionApproveDM = "approve_dm" // the Send as DM button
	ActionReject    = "reject"     // the Reject button
)

// safeURL accepts only plain https links.
func safeURL(u string) bool {
	return strings.HasPrefix(u, "https://") && !strings.ContainsAny(u, "<>\"' \n\t\\")
}
