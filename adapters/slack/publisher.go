package slack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/carebridge/carebridge/bridge"
)

// metadataEventType marks carebridge's messages, so that a restarted
// process can find what it posted before it died.
const metadataEventType = "carebridge_outbox"

// Publisher mirrors posts into Slack channels.
type Publisher struct {
	api      *slack.Client
	location *time.Location

	charts *ChartOptions // SetCharts; nil: reports go out without pictures

	mu       sync.Mutex
	channels map[string]string // "#name" → channel id, learnt from Slack
}

var _ bridge.Publisher = (*Publisher)(nil)

// NewPublisher returns a Publisher over api, a client made by NewClient
// (so that a message Slack posted is never reported failed because
// slack-go could not decode Slack's echo of it). Times are shown in loc.
func NewPublisher(api *slack.Client, loc *time.Location) *Publisher {
	if loc == nil {
		loc = time.UTC
	}
	return &Publisher{api: api, location: loc, channels: map[string]string{}}
}

// Publish implements bridge.Publisher.
func (p *Publisher) Publish(ctx context.Context, msg bridge.ChatMessage) (bridge.ChatRef, error) {
	if msg.Kind == bridge.MessageReport && msg.Report != nil {
		p.resolveRefs(ctx, msg.Report)
	}
	fallback, blocks := p.render(msg)
	meta := map[string]any{"outbox_id": strconv.FormatInt(msg.OutboxID, 10)}
	if msg.Kind == bridge.MessageBundle {
		// Every entry's row, so that a crash before they are recorded
		// finds them all here.
		meta["outbox_ids"] = bundleIDs(msg)
	}
	opts := []slack.MsgOption{
		slack.MsgOptionText(fallback, false),
		slack.MsgOptionDisableLinkUnfurl(),
		slack.MsgOptionDisableMediaUnfurl(),
		slack.MsgOptionMetadata(slack.SlackMetadata{EventType: metadataEventType, EventPayload: meta}),
	}
	if msg.ThreadTS != "" {
		opts = append(opts, slack.MsgOptionTS(msg.ThreadTS))
	}
	opts = append(opts, slack.MsgOptionBlocks(blocks...))
	answer := &postAnswer{}
	ch, ts, err := p.api.PostMessageContext(withPostAnswer(ctx, answer), p.channelID(msg.Channel), opts...)
	if err != nil {
		if !answer.accepted() {
			return bridge.ChatRef{}, Classify(err)
		}
		// Slack posted it; only slack-go's decoding of the echo failed.
		ch, ts = answer.Channel, answer.TS
	}
	p.learn(msg.Channel, ch)
	p.attachChart(ctx, msg, bridge.ChatRef{Channel: ch, TS: ts})
	return bridge.ChatRef{Channel: ch, TS: ts}, nil
}

// Permalink implements bridge.Publisher.
func (p *Publisher) Permalink(ctx context.Context, ref bridge.ChatRef) (string, error) {
	link, err := p.api.GetPermalinkContext(ctx, &slack.PermalinkParameters{Channel: ref.Channel, Ts: ref.TS})
	if err != nil {
		return "", Classify(err)
	}
	return link, nil
}

// Find implements bridge.Publisher: it reads the messages of the channel
// posted since `since` (or the thread's), page by page, and looks for the
// outbox id in their metadata. Reading only the newest page is not
// enough: while a crashed process restarts, other tickets' messages keep
// arriving in a busy channel, and a message pushed off the first page
// would be posted again. Slack limits history reads hard for unlisted
// apps, so this runs only for rows recovered after a crash.
func (p *Publisher) Find(ctx context.Context, channel, threadTS string, outboxID int64, since time.Time) (bridge.ChatRef, bool, error) {
	id, err := p.resolve(ctx, channel)
	if err != nil {
		return bridge.ChatRef{}, false, err
	}
	match := func(msgs []slack.Message) (bridge.ChatRef, bool) {
		for _, m := range msgs {
			ids, bundle := metadataIDs(m)
			for _, n := range ids {
				if n == outboxID {
					return bridge.ChatRef{Channel: id, TS: m.Timestamp, Bundle: bundle}, true
				}
			}
		}
		return bridge.ChatRef{}, false
	}
	if threadTS != "" {
		msgs, _, _, err := p.api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
			ChannelID: id, Timestamp: threadTS, Limit: 200, IncludeAllMetadata: true,
		})
		if err != nil {
			return bridge.ChatRef{}, false, Classify(err)
		}
		ref, ok := match(msgs)
		return ref, ok, nil
	}
	oldest := ""
	if !since.IsZero() {
		// A minute of slack for the clocks of this host and Slack's.
		from := since.Add(-time.Minute)
		oldest = fmt.Sprintf("%d.%06d", from.Unix(), from.Nanosecond()/1000)
	}
	cursor := ""
	for page := 0; page < maxFindPages; page++ {
		h, err := p.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
			ChannelID: id, Limit: 200, Oldest: oldest, Cursor: cursor, IncludeAllMetadata: true,
		})
		if err != nil {
			return bridge.ChatRef{}, false, Classify(err)
		}
		if ref, ok := match(h.Messages); ok {
			return ref, true, nil
		}
		cursor = h.ResponseMetaData.NextCursor
		if !h.HasMore || cursor == "" {
			return bridge.ChatRef{}, false, nil
		}
	}
	return bridge.ChatRef{}, false, fmt.Errorf("find outbox %d in %s: more than %d pages of history since %s; not posting blindly",
		outboxID, channel, maxFindPages, since.Format(time.RFC3339))
}

// PostedPage implements bridge.PostedLister: one page of
// conversations.history between oldest and latest (200 messages, which
// Slack cuts to 15 for apps outside the Marketplace), and the outbox ids
// in the metadata of carebridge's messages on it. It neither waits nor
// retries: a rate limit comes back as a SendError with RetryAfter, and the
// core paces the walk.
func (p *Publisher) PostedPage(ctx context.Context, channel string, oldest, latest time.Time, cursor string) (map[int64]bridge.ChatRef, string, error) {
	id, err := p.resolve(ctx, channel)
	if err != nil {
		return nil, "", err
	}
	h, err := p.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
		ChannelID: id, Limit: 200, Oldest: slackTS(oldest), Latest: slackTS(latest), Inclusive: true,
		Cursor: cursor, IncludeAllMetadata: true,
	})
	if err != nil {
		return nil, "", Classify(err)
	}
	found := map[int64]bridge.ChatRef{}
	for _, m := range h.Messages {
		ids, bundle := metadataIDs(m)
		for _, n := range ids {
			found[n] = bridge.ChatRef{Channel: id, TS: m.Timestamp, Bundle: bundle}
		}
	}
	next := h.ResponseMetaData.NextCursor
	if !h.HasMore {
		next = ""
	}
	return found, next, nil
}

var _ bridge.PostedLister = (*Publisher)(nil)

// slackTS renders t as a message ts ("" for the zero time).
func slackTS(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return fmt.Sprintf("%d.%06d", t.Unix(), t.Nanosecond()/1000)
}

// maxFindPages bounds a reconciliation's history read (200 messages a
// page).
const maxFindPages = 100

// channelID returns the known id of a "#name", or the name itself (Slack
// accepts names in chat.postMessage and answers with the id).
func (p *Publisher) channelID(channel string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if id, ok := p.channels[channel]; ok {
		return id
	}
	return channel
}

func (p *Publisher) learn(name, id string) {
	if !strings.HasPrefix(name, "#") || id == "" {
		return
	}
	p.mu.Lock()
	p.channels[name] = id
	p.mu.Unlock()
}

// resolve turns a "#name" into a channel id, listing channels if needed.
func (p *Publisher) resolve(ctx context.Context, channel string) (string, error) {
	if !strings.HasPrefix(channel, "#") {
		return channel, nil
	}
	if id := p.channelID(channel); id != channel {
		return id, nil
	}
	name := strings.TrimPrefix(channel, "#")
	cursor := ""
	for {
		list, next, err := p.api.GetConversationsContext(ctx, &slack.GetConversationsParameters{
			Cursor: cursor, Limit: 1000, Types: []string{"public_channel", "private_channel"}, ExcludeArchived: true,
		})
		if err != nil {
			return "", Classify(err)
		}
		for _, c := range list {
			if c.Name == name {
				p.learn(channel, c.ID)
				return c.ID, nil
			}
		}
		if next == "" {
			return "", &bridge.SendError{Platform: "slack", Code: "channel_not_found", Permanent: true, Err: fmt.Errorf("no channel named %s", channel)}
		}
		cursor = next
	}
}

// permanentCodes are Slack errors that retrying cannot fix.
var permanentCodes = map[string]bool{
	"channel_not_found": true, "not_in_channel": true, "invalid_auth": true, "not_authed": true,
	"account_inactive": true, "token_revoked": true, "token_expired": true, "is_archived": true,
	"msg_too_long": true, "no_text": true, "invalid_blocks": true, "invalid_blocks_format": true,
	"missing_scope": true, "restricted_action": true, "cant_update_message": true, "message_not_found": true,
	"invalid_metadata_format": true, "invalid_metadata_schema": true, "team_access_not_granted": true,
	"ekm_access_denied": true, "too_many_attachments": true, "invalid_arguments": true,
}

// Classify turns a slack-go error into a *bridge.SendError: rate limits
// carry Retry-After, server and network errors are retryable, and the
// errors in permanentCodes are permanent. Other ok:false codes are
// treated as retryable, so an unexpected code delays work but loses none.
func Classify(err error) error {
	if err == nil {
		return nil
	}
	se := &bridge.SendError{Platform: "slack", Err: err}
	var rl *slack.RateLimitedError
	var sc slack.StatusCodeError
	var sr slack.SlackErrorResponse
	var ne net.Error
	switch {
	case errors.As(err, &rl):
		se.Code, se.RetryAfter = "ratelimited", rl.RetryAfter
	case errors.As(err, &sc):
		se.Code = strconv.Itoa(sc.Code)
		se.Permanent = sc.Code >= 400 && sc.Code < 500 && sc.Code != 408 && sc.Code != 429
	case errors.As(err, &sr):
		se.Code = sr.Err
		se.Permanent = permanentCodes[sr.Err]
	case errors.As(err, &ne), errors.Is(err, context.DeadlineExceeded):
		se.Code = "network"
	default:
		se.Code = "error"
		if code := err.Error(); permanentCodes[code] {
			se.Code, se.Permanent = code, true
		}
	}
	return se
}

// render builds the fallback text and the Block Kit blocks of msg.
func (p *Publisher) render(msg bridge.ChatMessage) (string, []slack.Block) {
	switch msg.Kind {
	case bridge.MessageNotice, bridge.MessageStatus:
		return msg.Text, []slack.Block{slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, msg.Text, false, false), nil, nil)}
	case bridge.MessageBundle:
		return p.renderBundle(msg)
	case bridge.MessageFYI:
		return p.renderFYI(msg)
	case bridge.MessageReport:
		return p.renderReport(msg)
	}
	post := msg.Post
	if post == nil {
		return "(missing post)", nil
	}
	var blocks []slack.Block
	header := p.authorLine(post, msg.Official)
	body := post.Text
	if post.Title != "" {
		// An article (a blog post, a forum thread): its title, linked,
		// over the author line, and an excerpt; the rest is on the site.
		header = titleLine(post) + "\n" + header
		body = excerpt(post.Text)
	}
	blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, header, false, false), nil, nil))
	for _, c := range bodyChunks(body) {
		blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, c, false, false), nil, nil))
	}
	if msg.Kind == bridge.MessageParent {
		var ctxs []slack.MixedElement
		if t := msg.Ticket; t != nil && len(t.Matched) > 0 {
			ctxs = append(ctxs, slack.NewTextBlockObject(slack.MarkdownType, "Matched: "+codeList(t.Matched), false, false))
		}
		elig := eligibilityLine(post, msg.Ticket, msg.Answerable)
		if msg.Answers != "" {
			elig = ":speech_balloon: " + Escape(msg.Answers) // the network's own words
		}
		ctxs = append(ctxs, slack.NewTextBlockObject(slack.MarkdownType, elig, false, false))
		if msg.History != "" {
			ctxs = append(ctxs, slack.NewTextBlockObject(slack.MarkdownType, "Customer: "+Escape(msg.History), false, false))
		}
		if msg.AfterHours != "" {
			ctxs = append(ctxs, slack.NewTextBlockObject(slack.MarkdownType, Escape(msg.AfterHours), false, false))
		}
		if e := msg.Earlier; e != nil {
			ctxs = append(ctxs, slack.NewTextBlockObject(slack.MarkdownType, earlierLine(e), false, false))
		}
		if msg.OpenedBy != "" {
			ctxs = append(ctxs, slack.NewTextBlockObject(slack.MarkdownType, "Opened from a bundle by <@"+Escape(msg.OpenedBy)+"> to answer it: reply in this thread.", false, false))
		}
		blocks = append(blocks, slack.NewContextBlock("", ctxs...))
		if msg.Text != "" {
			// A notice that opened the thread (the post was in a bundle).
			blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, msg.Text, false, false), nil, nil))
		}
	} else if msg.Answers != "" {
		// A later post: what can be answered changes with it (Meta's
		// windows run from the customer's latest message).
		blocks = append(blocks, slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType, ":speech_balloon: "+Escape(msg.Answers), false, false)))
	}
	return p.fallback(post, msg), blocks
}

func (p *Publisher) renderFYI(msg bridge.ChatMessage) (string, []slack.Block) {
	post := msg.Post
	owner := msg.OwnerName
	if owner == "" && msg.Ticket != nil {
		owner = msg.Ticket.Department
	}
	text := "FYI — owned by *" + Escape(owner) + "*"
	if msg.OwnerLink != "" {
		text += " · <" + msg.OwnerLink + "|open the thread>"
	}
	lines := []string{text}
	if post != nil {
		if post.Title != "" {
			lines = append(lines, titleLine(post))
		}
		lines = append(lines, p.authorLine(post, msg.Official), quote(Shown(truncate(post.Text, 600))))
	}
	body := strings.Join(lines, "\n")
	fallback := "FYI for " + msg.DeptName + " (owned by " + owner + ")"
	if post != nil {
		fallback += ": " + Shown(truncate(post.Text, 150))
	}
	return fallback, []slack.Block{slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, body, false, false), nil, nil)}
}

// authorLine is "*Name* <profile|@handle> · <post|on X> · 2026-11-20 09:30".
func (p *Publisher) authorLine(post *bridge.Post, official bool) string {
	var b strings.Builder
	if official {
		b.WriteString(":office: Official account ")
	}
	name := post.AuthorName
	if name == "" {
		name = post.AuthorHandle
	}
	if name == "" {
		name = post.AuthorID
	}
	b.WriteString("*" + Shown(name) + "*")
	if post.AuthorHandle != "" && validHandle(post.AuthorHandle) && (post.Platform == "" || post.Platform == "x") {
		fmt.Fprintf(&b, " <https://x.com/%s|@%s>", post.AuthorHandle, post.AuthorHandle)
	}
	if post.URL != "" && safeURL(post.URL) {
		what := "post"
		if post.IsDM() {
			what = "DM"
		}
		fmt.Fprintf(&b, " · <%s|view the %s>", post.URL, what)
	}
	if !post.CreatedAt.IsZero() {
		b.WriteString(" · " + post.CreatedAt.In(p.location).Format("2006-01-02 15:04"))
	}
	return b.String()
}

func (p *Publisher) fallback(post *bridge.Post, msg bridge.ChatMessage) string {
	who := "@" + post.AuthorHandle
	if post.AuthorHandle == "" {
		who = post.AuthorName
	}
	prefix := "New post"
	switch {
	case msg.Kind == bridge.MessageReply:
		prefix = "Reply"
	case post.IsDM():
		prefix = "New DM"
	}
	text := post.Text
	if post.Title != "" {
		text = post.Title
	}
	return fmt.Sprintf("%s from %s: %s", prefix, Shown(who), Shown(truncate(text, 200)))
}

// eligibilityLine says how the post can be answered; why is the network's
// explanation when only by DM.
func eligibilityLine(post *bridge.Post, t *bridge.Ticket, why string) string {
	account := ""
	if t != nil && t.Account != "" {
		account = " as @" + t.Account
	}
	switch post.Eligibility {
	case bridge.EligibleNone:
		return ":globe_with_meridians: Listen only — answer on the site itself; notes (note: …) still work here"
	case bridge.EligiblePublic:
		return ":speech_balloon: Public reply possible" + account
	case bridge.EligibleDM:
		return ":envelope: Direct message — answers go back by DM" + account
	case bridge.EligiblePublicOnly:
		return ":speech_balloon: Public reply only" + account
	default:
		if why != "" {
			return ":lock: DM only — " + why
		}
		return ":lock: DM only (or answer in the X app): the author did not mention or quote our account"
	}
}

// Slack takes at most 50 blocks in a message and 3,000 characters in a
// section's text. A post's body is cut into sections of at most
// bodyChunkBytes bytes; past maxBodySections, the rest is replaced by a
// visible note (a post would need over 100,000 bytes of escaped text for
// that: X's longest posts are 25,000 characters).
const (
	bodyChunkBytes  = 2900
	maxBodySections = 45
)

// bodyChunks renders a post's text as the section texts of its message:
// hidden controls made visible, escaped, cut without splitting a character
// or an entity. Joined, they are the whole text unless it was too long
// for one message, in which case the last section says how many characters
// were left out.
func bodyChunks(text string) []string {
	cs := chunks(Shown(bodyText(text)), bodyChunkBytes)
	if len(cs) <= maxBodySections {
		return cs
	}
	left := utf8.RuneCountInString(Unescape(strings.Join(cs[maxBodySections-1:], "")))
	return append(cs[:maxBodySections-1:maxBodySections-1],
		fmt.Sprintf("_… %d more characters not shown here: the whole post is on X (link above)._", left))
}

// bodyText keeps an empty post visible.
func bodyText(s string) string {
	if strings.TrimSpace(s) == "" {
		return "(no text)"
	}
	return s
}

func codeList(words []string) string {
	parts := make([]string, len(words))
	for i, w := range words {
		parts[i] = "`" + Escape(strings.ReplaceAll(w, "`", "'")) + "`"
	}
	return strings.Join(parts, ", ")
}

func quote(s string) string { return "> " + strings.ReplaceAll(s, "\n", "\n> ") }

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

func validHandle(h string) bool {
	if len(h) == 0 || len(h) > 15 {
		return false
	}
	for _, c := range h {
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// safeURL accepts only plain https links without characters that would
// break out of a Slack link.
func safeURL(u string) bool {
	return (strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://")) && !strings.ContainsAny(u, "<>| \n\t")
}

// articleExcerpt is how much of an article's text (a post with a title)
// its message shows; the link leads to the rest.
const articleExcerpt = 600

// titleLine is an article's title in bold, linked to it when the link is
// safe to show.
func titleLine(post *bridge.Post) string {
	title := Shown(truncate(strings.Join(strings.Fields(post.Title), " "), 200))
	if post.URL != "" && safeURL(post.URL) {
		return "*<" + post.URL + "|" + title + ">*"
	}
	return "*" + title + "*"
}

// excerpt is the start of an article's text, cut at a word boundary, with
// a pointer to the rest.
func excerpt(text string) string {
	r := []rune(strings.TrimSpace(text))
	if len(r) <= articleExcerpt {
		return string(r)
	}
	cut := articleExcerpt
	for i := cut; i > articleExcerpt*3/4; i-- {
		if r[i] == ' ' || r[i] == '\n' {
			cut = i
			break
		}
	}
	return strings.TrimSpace(string(r[:cut])) + fmt.Sprintf("… (%d more characters on the site)", len(r)-cut)
}
