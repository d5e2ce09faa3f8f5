package teams

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/carebridge/carebridge/bridge"
)

// PublisherConfig configures a Publisher.
type PublisherConfig struct {
	// TeamID is the team's id ("19:…@thread.tacv2", the id of its General
	// channel), where names of people are looked up; "" looks them up in
	// the channel of the message.
	TeamID string
	// TeamGroupID is the team's Entra (AAD) group id, used in links to
	// messages; optional.
	TeamGroupID string
	// TeamGroupIDs gives the group id per channel id, for departments
	// in different teams; a channel not listed uses TeamGroupID.
	TeamGroupIDs map[string]string
	// Names maps user ids (AAD object ids or 29:… ids) to display names.
	// People not listed are named from what the Handler saw, else from the
	// connector's member look-up.
	Names map[string]string
	// Tags maps Teams tag ids to tag names: the core's group mentions of
	// these become tag mentions; other groups are written as plain names.
	Tags     map[string]string
	Location *time.Location // times are shown here; nil: UTC
}

// Publisher is carebridge's Teams chat surface for the core: it posts
// tickets as new threads, later posts, notices and draft cards into their
// thread, FYI copies and reports as new posts, and updates a draft card
// in place.
type Publisher struct {
	c   *Client
	cfg PublisherConfig

	mu      sync.Mutex
	roots   map[string]string    // activity id → its thread's root id, for the messages posted here
	members map[string]nameEntry // user id → name from the connector
}

type nameEntry struct {
	name string
	at   time.Time
}

var (
	_ bridge.Publisher      = (*Publisher)(nil)
	_ bridge.MessageUpdater = (*Publisher)(nil)
	_ bridge.ChatActions    = (*Publisher)(nil)
)

// DraftMarks are the reactions the bot puts on staff drafts on Teams: none.
// The draft card shows where a draft stands (Update rewrites it), and a
// bot's reaction on a person's message is not something the Bot Connector
// is documented to offer; empty marks make the core queue no reaction.
var DraftMarks = bridge.DraftMarks{}

// NewPublisher returns a Publisher that sends through c.
func NewPublisher(c *Client, cfg PublisherConfig) *Publisher {
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	return &Publisher{c: c, cfg: cfg, roots: map[string]string{}, members: map[string]nameEntry{}}
}

// threadConv is the conversation id of a channel thread.
func threadConv(channel, root string) string { return channel + ";messageid=" + root }

// Publish implements bridge.Publisher. A ticket's first post
// (MessageParent), an FYI copy, a report, and any message without a
// ThreadTS open a new thread in msg.Channel (POST /v3/conversations); the
// ChatRef is {Channel: the channel id, TS: the new thread's root activity
// id}. Replies, notices and draft cards go into the thread
// msg.Channel;messageid=msg.ThreadTS, and their TS is the new activity's
// id. Those ids are what Teams puts in inbound activities: a thread
// reply's conversation id ends in ";messageid=<root>", and reactions and
// card actions name the message by its activity id.
func (p *Publisher) Publish(ctx context.Context, msg bridge.ChatMessage) (bridge.ChatRef, error) {
	if msg.Channel == "" {
		return bridge.ChatRef{}, &bridge.SendError{Platform: "teams", Code: "no_channel", Permanent: true, Err: fmt.Errorf("message %s has no channel", msg.Kind)}
	}
	act, err := p.render(ctx, msg)
	if err != nil {
		return bridge.ChatRef{}, err
	}
	newThread := msg.ThreadTS == "" || msg.Kind == bridge.MessageParent || msg.Kind == bridge.MessageFYI || msg.Kind == bridge.MessageReport
	if newThread {
		res, err := p.c.createThread(ctx, msg.Channel, act)
		if err != nil {
			return bridge.ChatRef{}, err
		}
		root := res.ActivityID
		if root == "" {
			_, root, _ = strings.Cut(res.ID, ";messageid=")
		}
		if root == "" {
			return bridge.ChatRef{}, &bridge.SendError{Platform: "teams", Code: "decode", Permanent: true,
				Err: fmt.Errorf("conversation %q created without a root activity id", res.ID)}
		}
		p.remember(root, root)
		return bridge.ChatRef{Channel: msg.Channel, TS: root}, nil
	}
	id, err := p.c.send(ctx, threadConv(msg.Channel, msg.ThreadTS), act)
	if err != nil {
		return bridge.ChatRef{}, err
	}
	p.remember(id, msg.ThreadTS)
	return bridge.ChatRef{Channel: msg.Channel, TS: id}, nil
}

// Update implements bridge.MessageUpdater: it rewrites the message ref
// with msg rendered anew (a draft card showing its outcome, without
// buttons). The thread is msg.ThreadTS; without it, the thread this
// process posted ref in, else ref is taken as a thread root.
func (p *Publisher) Update(ctx context.Context, ref bridge.ChatRef, msg bridge.ChatMessage) error {
	if msg.Channel == "" {
		msg.Channel = ref.Channel
	}
	act, err := p.render(ctx, msg)
	if err != nil {
		return err
	}
	root := msg.ThreadTS
	if root == "" {
		root = p.rootOf(ref.TS)
	}
	return p.c.update(ctx, threadConv(ref.Channel, root), ref.TS, act)
}

// React implements bridge.ChatActions as a no-op that succeeds: the core
// marks drafts with reactions on Slack, and on Teams the draft card shows
// the same (DraftMarks is empty, so the core does not even ask).
func (p *Publisher) React(ctx context.Context, ref bridge.ChatRef, name string, add bool) error {
	return nil
}

// Permalink implements bridge.Publisher with a Teams deep link to the
// message: https://teams.microsoft.com/l/message/{channel}/{message}
// ?tenantId=…&groupId=…&parentMessageId={root}&createdTime={message}.
// The pattern is the one Teams' "Copy link" produces; Microsoft does not
// document it for bots. The thread root is known for messages this
// process posted; any other message is linked as a root.
func (p *Publisher) Permalink(ctx context.Context, ref bridge.ChatRef) (string, error) {
	if ref.Channel == "" || ref.TS == "" {
		return "", &bridge.SendError{Platform: "teams", Code: "no_message", Permanent: true, Err: fmt.Errorf("no message to link to")}
	}
	q := url.Values{}
	q.Set("tenantId", p.c.tenantID)
	if g := p.cfg.TeamGroupIDs[ref.Channel]; g != "" {
		q.Set("groupId", g)
	} else if p.cfg.TeamGroupID != "" {
		q.Set("groupId", p.cfg.TeamGroupID)
	}
	q.Set("parentMessageId", p.rootOf(ref.TS))
	q.Set("createdTime", ref.TS)
	return "https://teams.microsoft.com/l/message/" + url.PathEscape(ref.Channel) + "/" + url.PathEscape(ref.TS) + "?" + q.Encode(), nil
}

func (p *Publisher) remember(id, root string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.roots) > 50000 {
		clear(p.roots)
	}
	p.roots[id] = root
}

func (p *Publisher) rootOf(id string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r, ok := p.roots[id]; ok {
		return r
	}
	return id
}

// memberTTL is how long a name from the connector is kept (and how long a
// failed look-up is not repeated).
const memberTTL = time.Hour

// nameOf returns a display name for a user id: from the configuration,
// what the Handler saw, or the connector; "a teammate" when none knows.
func (p *Publisher) nameOf(ctx context.Context, channel, id string) string {
	if n := p.cfg.Names[id]; n != "" {
		return n
	}
	if n := p.c.knownName(id); n != "" {
		return n
	}
	now := p.c.clock.Now()
	p.mu.Lock()
	e, ok := p.members[id]
	p.mu.Unlock()
	if !ok || now.Sub(e.at) > memberTTL {
		conv := p.cfg.TeamID
		if conv == "" {
			conv = channel
		}
		e = nameEntry{at: now}
		if conv != "" {
			if m, err := p.c.member(ctx, conv, id); err == nil {
				e.name = m.Name
			} else {
				p.c.log.Debug("teams member look-up failed", "user", id, "err", err)
			}
		}
		p.mu.Lock()
		p.members[id] = e
		p.mu.Unlock()
	}
	if e.name != "" {
		return e.name
	}
	return "a teammate"
}

// resolver names mentions for messages in channel.
func (p *Publisher) resolver(ctx context.Context, channel string) resolver {
	return resolver{
		person: func(id string) mentionTarget {
			if name, ok := p.cfg.Tags[id]; ok {
				return mentionTarget{ID: id, Name: name, Tag: true}
			}
			return mentionTarget{ID: id, Name: p.nameOf(ctx, channel, id)}
		},
		group: func(id string) (mentionTarget, bool) {
			if name, ok := p.cfg.Tags[id]; ok {
				return mentionTarget{ID: id, Name: name, Tag: true}, true
			}
			return mentionTarget{Name: p.cfg.Names[id]}, false
		},
	}
}

// maxActivityBytes keeps a message under Teams' size limit (about 28 KB
// for a bot message; over it the connector answers 413
// MessageSizeTooBig), with room for the envelope.
const maxActivityBytes = 26 << 10

// render builds the activity for msg.
func (p *Publisher) render(ctx context.Context, msg bridge.ChatMessage) (*activity, error) {
	var act *activity
	switch msg.Kind {
	case bridge.MessageBundle:
		return p.renderBundle(msg) // fits by construction: no entry may be dropped
	case bridge.MessageStatus:
		act = p.renderStatus(ctx, msg)
	case bridge.MessageNotice:
		text, ents := translateMarkup(msg.Text, p.resolver(ctx, msg.Channel))
		act = &activity{Type: "message", TextFormat: "xml", Text: text, Entities: ents}
	case bridge.MessageDraft:
		act = p.renderDraft(ctx, msg)
	case bridge.MessageFYI:
		act = p.renderFYI(msg)
	case bridge.MessageReport:
		act = p.renderReport(ctx, msg)
	default:
		act = p.renderPost(ctx, msg)
	}
	size, err := activitySize(act)
	if err != nil {
		return nil, &bridge.SendError{Platform: "teams", Code: "encode", Permanent: true, Err: err}
	}
	if size > maxActivityBytes {
		if !shrink(act) {
			return nil, &bridge.SendError{Platform: "teams", Code: "MessageSizeTooBig", Permanent: true,
				Err: fmt.Errorf("the %s message is %d bytes, over Teams' limit, and cannot be shortened", msg.Kind, size)}
		}
	}
	return act, nil
}

func activitySize(act *activity) (int, error) {
	b, err := marshal(act)
	return len(b), err
}

// marshal encodes v as the client sends it (without HTML escaping, which
// would triple the size of a text full of < and >).
func marshal(v any) ([]byte, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

// shrink drops a card's last body blocks until the activity fits, with a
// line saying how many were left out. It reports whether it fits.
func shrink(act *activity) bool {
	if len(act.Attachments) != 1 {
		return false
	}
	card, ok := act.Attachments[0].Content.(map[string]any)
	if !ok {
		return false
	}
	body, _ := card["body"].([]any)
	dropped := 0
	for len(body) > 2 {
		body = body[:len(body)-1]
		dropped++
		note := map[string]any{"type": "RichTextBlock", "inlines": []any{run{Text: fmt.Sprintf("… %d more parts not shown: too long for one Teams message.", dropped), Italic: true, Subtle: true}.json()}}
		card["body"] = append(body[:len(body):len(body)], note)
		if n, err := activitySize(act); err == nil && n <= maxActivityBytes {
			return true
		}
	}
	return false
}
