package meta

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/carebridge/carebridge/bridge"
)

// Platforms: Facebook Pages and Instagram accounts are two networks in
// the core (see the package documentation for why).
const (
	Facebook  bridge.Platform = "facebook"
	Instagram bridge.Platform = "instagram"
)

// Page is one Facebook Page carebridge listens on and answers as, and the
// Instagram account linked to it (InstagramID, optional).
type Page struct {
	Name        string // the account name in threads and routes
	ID          string
	Token       string
	AppSecret   string
	VerifyToken string
	InstagramID string
}

// ErrMalformed is a delivery that is not Meta's JSON envelope.
var ErrMalformed = errors.New("malformed delivery")

// ErrUnknownObject is a delivery for an object carebridge does not
// subscribe to (anything but page and instagram).
var ErrUnknownObject = errors.New("unknown object")

// The wire format of a webhook delivery (Graph API webhooks: object,
// entry[], changes[] or messaging[]). Unknown fields are ignored.
type delivery struct {
	Object string  `json:"object"`
	Entry  []entry `json:"entry"`
}

type entry struct {
	ID        string          `json:"id"`
	Time      flexTime        `json:"time"`
	Changes   []change        `json:"changes"`
	Messaging json.RawMessage `json:"messaging"`
}

type change struct {
	Field string          `json:"field"`
	Value json.RawMessage `json:"value"`
}

type actor struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Username string `json:"username"`
}

// feedValue is a Page feed change (field "feed").
type feedValue struct {
	From        *actor   `json:"from"`
	Item        string   `json:"item"`
	Verb        string   `json:"verb"`
	CommentID   string   `json:"comment_id"`
	PostID      string   `json:"post_id"`
	ParentID    string   `json:"parent_id"`
	CreatedTime flexTime `json:"created_time"`
	Message     string   `json:"message"`
}

// igCommentValue is an Instagram comments change (field "comments").
type igCommentValue struct {
	From  *actor `json:"from"`
	Media *struct {
		ID string `json:"id"`
	} `json:"media"`
	ID       string `json:"id"`
	ParentID string `json:"parent_id"`
	Text     string `json:"text"`
}

// messagingEvent is one entry[].messaging[] item (Messenger or Instagram
// DMs). Deliveries, reads and postbacks carry no message and are skipped.
type messagingEvent struct {
	Sender    *actor   `json:"sender"`
	Recipient *actor   `json:"recipient"`
	Timestamp flexTime `json:"timestamp"`
	Message   *struct {
		MID         string            `json:"mid"`
		Text        string            `json:"text"`
		IsEcho      bool              `json:"is_echo"`
		Attachments []json.RawMessage `json:"attachments"`
	} `json:"message"`
}

// flexTime is a time on Meta's wire: Unix seconds (feed created_time,
// entry time), Unix milliseconds (messaging timestamps) or an ISO 8601
// string; a number above 10^11 is taken as milliseconds.
type flexTime struct{ time.Time }

func (t *flexTime) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			t.Time = unixOf(n)
			return nil
		}
		for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05-0700"} {
			if v, err := time.Parse(layout, s); err == nil {
				t.Time = v
				return nil
			}
		}
		return fmt.Errorf("time %q", s)
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	t.Time = unixOf(int64(f))
	return nil
}

func unixOf(n int64) time.Time {
	if n > 1e11 {
		return time.UnixMilli(n).UTC()
	}
	return time.Unix(n, 0).UTC()
}

// Suffixes of the external ids of the posts an edit or a removal of a
// comment becomes (the comment's own id is its first version's).
const (
	editMark    = "#edit-"
	removedMark = "#removed"
)

// CommentID is the Graph id of the comment a post's external id names
// (an edit or a removal of a comment is stored as its own post).
func CommentID(externalID string) string {
	id, _, _ := strings.Cut(externalID, "#")
	return id
}

// isRemoval reports whether p stands for a removed comment.
func isRemoval(p *bridge.Post) bool { return strings.HasSuffix(p.ExternalID, removedMark) }

// Parsed is what one delivery brings.
type Parsed struct {
	// Posts are the customers' comments, edits and messages, oldest
	// first.
	Posts []bridge.Post
	// Removals stand for comments their authors removed; they are worth
	// showing only in a conversation carebridge knows.
	Removals []bridge.Post
	// Skipped counts items ignored: our own comments and echoes, other
	// items (reactions, posts), unknown pages, events without a message.
	Skipped int
}

// Parse reads a webhook delivery for pages. It fails with ErrMalformed or
// ErrUnknownObject; anything else it does not understand inside a valid
// envelope is skipped (counted), so that Meta does not retry it forever.
func Parse(body []byte, pages []Page) (Parsed, error) {
	var d delivery
	if err := json.Unmarshal(body, &d); err != nil {
		return Parsed{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var out Parsed
	switch d.Object {
	case "page", "instagram":
	case "":
		return out, fmt.Errorf("%w: no object", ErrMalformed)
	default:
		return out, fmt.Errorf("%w %q", ErrUnknownObject, d.Object)
	}
	ig := d.Object == "instagram"
	for _, e := range d.Entry {
		pg := pageOf(pages, e.ID, ig)
		if pg == nil {
			out.Skipped++
			continue
		}
		for _, c := range e.Changes {
			switch {
			case !ig && c.Field == "feed":
				out.feed(pg, e, c.Value)
			case ig && c.Field == "comments":
				out.igComment(pg, e, c.Value)
			default:
				out.Skipped++
			}
		}
		if len(e.Messaging) > 0 {
			var events []json.RawMessage
			if err := json.Unmarshal(e.Messaging, &events); err != nil {
				return Parsed{}, fmt.Errorf("%w: messaging: %v", ErrMalformed, err)
			}
			for _, raw := range events {
				out.message(pg, ig, raw)
			}
		}
	}
	sort.SliceStable(out.Posts, func(i, j int) bool { return out.Posts[i].CreatedAt.Before(out.Posts[j].CreatedAt) })
	return out, nil
}

func pageOf(pages []Page, id string, ig bool) *Page {
	for i := range pages {
		if (!ig && pages[i].ID == id) || (ig && pages[i].InstagramID != "" && pages[i].InstagramID == id) {
			return &pages[i]
		}
	}
	return nil
}

func (out *Parsed) feed(pg *Page, e entry, raw json.RawMessage) {
	var v feedValue
	if json.Unmarshal(raw, &v) != nil || v.Item != "comment" || v.CommentID == "" || v.From == nil || v.From.ID == "" {
		out.Skipped++
		return
	}
	if v.From.ID == pg.ID {
		out.Skipped++ // our own comment (the Page's replies come back too)
		return
	}
	at := v.CreatedTime.Time
	if at.IsZero() {
		at = e.Time.Time
	}
	p := bridge.Post{
		Platform: Facebook, ExternalID: v.CommentID, Source: bridge.SourceMention,
		AuthorID: v.From.ID, AuthorName: v.From.Name, Text: v.Message, CreatedAt: at,
		URL:             "https://www.facebook.com/" + v.CommentID,
		ConversationKey: "fb:" + v.PostID + ":" + v.From.ID,
		InReplyTo:       v.ParentID,
		Mentions:        []string{strings.ToLower(pg.Name)},
		Eligibility:     bridge.EligiblePublic,
		Raw:             raw,
	}
	out.add(p, v.Verb, e)
}

func (out *Parsed) igComment(pg *Page, e entry, raw json.RawMessage) {
	var v igCommentValue
	if json.Unmarshal(raw, &v) != nil || v.ID == "" || v.From == nil || v.From.ID == "" || v.Media == nil {
		out.Skipped++
		return
	}
	if v.From.ID == pg.InstagramID {
		out.Skipped++ // our own reply
		return
	}
	p := bridge.Post{
		Platform: Instagram, ExternalID: v.ID, Source: bridge.SourceMention,
		AuthorID: v.From.ID, AuthorHandle: v.From.Username, Text: v.Text, CreatedAt: e.Time.Time,
		ConversationKey: "ig:" + v.Media.ID + ":" + v.From.ID,
		InReplyTo:       v.ParentID,
		Mentions:        []string{strings.ToLower(pg.Name)},
		Eligibility:     bridge.EligiblePublic,
		Raw:             raw,
	}
	out.add(p, "add", e)
}

// add files a comment by its verb: a new comment, an edit (a post of its
// own, shown in the thread) or a removal.
func (out *Parsed) add(p bridge.Post, verb string, e entry) {
	switch verb {
	case "add", "":
		out.Posts = append(out.Posts, p)
	case "edited", "edit":
		p.ExternalID += editMark + strconv.FormatInt(e.Time.Unix(), 10)
		p.AuthorName = strings.TrimSpace(p.AuthorName + " (edited the comment)")
		// CreatedAt stays the comment's: Meta's 7 days for a private
		// reply count from it.
		out.Posts = append(out.Posts, p)
	case "remove":
		p.ExternalID += removedMark
		p.Text = ""
		p.AuthorName = strings.TrimSpace(p.AuthorName + " (removed the comment)")
		p.Eligibility = bridge.EligibleNone
		if !e.Time.IsZero() {
			p.CreatedAt = e.Time.Time
		}
		out.Removals = append(out.Removals, p)
	default:
		out.Skipped++
	}
}

func (out *Parsed) message(pg *Page, ig bool, raw json.RawMessage) {
	var m messagingEvent
	if json.Unmarshal(raw, &m) != nil || m.Message == nil || m.Message.MID == "" || m.Sender == nil || m.Sender.ID == "" {
		out.Skipped++
		return
	}
	own := pg.ID
	platform, key := Facebook, "fbdm:"+pg.ID+":"
	if ig {
		own, platform, key = pg.InstagramID, Instagram, "igdm:"+pg.InstagramID+":"
	}
	if m.Message.IsEcho || m.Sender.ID == own {
		out.Skipped++ // our own message, echoed back
		return
	}
	text := m.Message.Text
	if text == "" && len(m.Message.Attachments) > 0 {
		text = fmt.Sprintf("(%d attachment(s): open the conversation in Meta Business Suite)", len(m.Message.Attachments))
	}
	out.Posts = append(out.Posts, bridge.Post{
		Platform: platform, ExternalID: m.Message.MID, Source: bridge.SourceDM,
		AuthorID: m.Sender.ID, Text: text, CreatedAt: m.Timestamp.Time,
		ConversationKey: key + m.Sender.ID,
		Mentions:        []string{strings.ToLower(pg.Name)},
		Eligibility:     bridge.EligibleDM,
		Raw:             raw,
	})
}
