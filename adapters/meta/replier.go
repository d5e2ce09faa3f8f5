package meta

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/carebridge/carebridge/bridge"
)

// Replier answers on Facebook or Instagram as one of our pages: public
// replies to comments, private replies (a DM tied to a comment), and DMs
// inside Meta's messaging window. One Replier serves one platform.
type Replier struct {
	platform bridge.Platform
	g        *Graph
	pages    []Page
	// humanAgent: a DM Meta refuses as outside the 24-hour window (code
	// 10) is sent again with the HUMAN_AGENT tag (7 days). Only
	// human-written, approved answers go through carebridge, which is
	// what the tag is for; it needs Meta's Human Agent permission.
	humanAgent bool
}

var (
	_ bridge.Replier        = (*Replier)(nil)
	_ bridge.PrivateReplier = (*Replier)(nil)
)

// NewReplier returns the replier of platform (Facebook or Instagram).
func NewReplier(platform bridge.Platform, g *Graph, pages []Page, humanAgent bool) *Replier {
	return &Replier{platform: platform, g: g, pages: pages, humanAgent: humanAgent}
}

func (r *Replier) page(account string) (*Page, error) {
	for i := range r.pages {
		if strings.EqualFold(r.pages[i].Name, account) {
			if r.platform == Instagram && r.pages[i].InstagramID == "" {
				break
			}
			return &r.pages[i], nil
		}
	}
	return nil, &bridge.SendError{Platform: string(r.platform), Code: "unknown_account", Permanent: true,
		Err: fmt.Errorf("no %s account named %q in meta.pages", r.platform, account)}
}

// own is our id on the platform: the Page, or its Instagram account.
func (r *Replier) own(pg *Page) string {
	if r.platform == Instagram {
		return pg.InstagramID
	}
	return pg.ID
}

// Reply implements bridge.Replier: a public reply to the comment
// inReplyTo (Facebook POST /{comment-id}/comments, Instagram POST
// /{comment-id}/replies).
func (r *Replier) Reply(ctx context.Context, account, inReplyTo, text string) (bridge.SentRef, error) {
	pg, err := r.page(account)
	if err != nil {
		return bridge.SentRef{}, err
	}
	id := CommentID(inReplyTo)
	edge := "/comments"
	if r.platform == Instagram {
		edge = "/replies"
	}
	var resp struct {
		ID string `json:"id"`
	}
	if err := r.g.call(ctx, r.platform, pg, "POST", "/"+url.PathEscape(id)+edge, nil, url.Values{"message": {text}}, nil, &resp); err != nil {
		return bridge.SentRef{}, err
	}
	return bridge.SentRef{ID: resp.ID, URL: r.commentURL(resp.ID)}, nil
}

func (r *Replier) commentURL(id string) string {
	if r.platform == Facebook && id != "" {
		return "https://www.facebook.com/" + id
	}
	return ""
}

type sendAnswer struct {
	RecipientID string `json:"recipient_id"`
	MessageID   string `json:"message_id"`
}

// SendDM implements bridge.Replier: a message to the person recipient
// (a Page-scoped or Instagram-scoped id) through the Page's Send API,
// RESPONSE inside the 24-hour window. With the human agent switch on, a
// refusal as outside the window (code 10) is retried once with the
// HUMAN_AGENT tag, which Meta accepts up to 7 days after the customer's
// last message; only then, so in-window answers are never tagged.
func (r *Replier) SendDM(ctx context.Context, account, recipient, text string) (bridge.SentRef, error) {
	pg, err := r.page(account)
	if err != nil {
		return bridge.SentRef{}, err
	}
	body := map[string]any{"recipient": map[string]string{"id": recipient}, "messaging_type": "RESPONSE", "message": map[string]string{"text": text}}
	var resp sendAnswer
	err = r.g.call(ctx, r.platform, pg, "POST", "/"+pg.ID+"/messages", nil, nil, body, &resp)
	var se *bridge.SendError
	if err != nil && r.humanAgent && errors.As(err, &se) && se.Code == "10" {
		body["messaging_type"], body["tag"] = "MESSAGE_TAG", "HUMAN_AGENT"
		err = r.g.call(ctx, r.platform, pg, "POST", "/"+pg.ID+"/messages", nil, nil, body, &resp)
	}
	if err != nil {
		return bridge.SentRef{}, err
	}
	return bridge.SentRef{ID: resp.MessageID}, nil
}

// PrivateReply implements bridge.PrivateReplier: Meta's private reply to
// a comment (POST /{page-id}/messages with recipient.comment_id; for an
// Instagram account linked through Facebook Login, through the Page node
// too). Meta allows one per comment, within 7 days: a second one is
// refused with 10900, which means the comment has its private reply —
// after a crash, ours — and is taken as sent.
func (r *Replier) PrivateReply(ctx context.Context, account, postID, text string) (bridge.SentRef, error) {
	pg, err := r.page(account)
	if err != nil {
		return bridge.SentRef{}, err
	}
	comment := CommentID(postID)
	body := map[string]any{"recipient": map[string]string{"comment_id": comment}, "message": map[string]string{"text": text}}
	var resp sendAnswer
	err = r.g.call(ctx, r.platform, pg, "POST", "/"+pg.ID+"/messages", nil, nil, body, &resp)
	var se *bridge.SendError
	if errors.As(err, &se) && se.Code == "10900" {
		return bridge.SentRef{ID: "private-reply:" + comment}, nil
	}
	if err != nil {
		return bridge.SentRef{}, err
	}
	return bridge.SentRef{ID: resp.MessageID}, nil
}

// FindPrivateReply implements bridge.PrivateReplier. A private reply
// cannot be listed under its comment, but Meta refuses a second one
// (10900, which PrivateReply takes as sent): sending again is the
// check, so this reports nothing found.
func (r *Replier) FindPrivateReply(ctx context.Context, account, postID, text string) (bridge.SentRef, bool, error) {
	return bridge.SentRef{}, false, nil
}

// maxFindPages bounds the pages of replies read when looking for ours.
const maxFindPages = 5

// FindReply implements bridge.Replier: our reply with text under the
// comment inReplyTo, among its replies (newest first, a few pages).
func (r *Replier) FindReply(ctx context.Context, account, inReplyTo, text string) (bridge.SentRef, bool, error) {
	pg, err := r.page(account)
	if err != nil {
		return bridge.SentRef{}, false, err
	}
	edge, fields := "/comments", "id,from,message,created_time"
	if r.platform == Instagram {
		edge, fields = "/replies", "id,from,text,username,timestamp"
	}
	q := url.Values{"fields": {fields}, "limit": {"100"}, "order": {"reverse_chronological"}}
	for page := 0; page < maxFindPages; page++ {
		var resp struct {
			Data []struct {
				ID      string `json:"id"`
				From    *actor `json:"from"`
				Message string `json:"message"`
				Text    string `json:"text"`
			} `json:"data"`
			Paging struct {
				Cursors struct {
					After string `json:"after"`
				} `json:"cursors"`
				Next string `json:"next"`
			} `json:"paging"`
		}
		if err := r.g.call(ctx, r.platform, pg, "GET", "/"+url.PathEscape(CommentID(inReplyTo))+edge, q, nil, nil, &resp); err != nil {
			return bridge.SentRef{}, false, err
		}
		for _, c := range resp.Data {
			seen := c.Message
			if r.platform == Instagram {
				seen = c.Text
			}
			if c.From != nil && c.From.ID == r.own(pg) && sameText(text, seen) {
				return bridge.SentRef{ID: c.ID, URL: r.commentURL(c.ID)}, true, nil
			}
		}
		if resp.Paging.Next == "" || resp.Paging.Cursors.After == "" {
			break
		}
		q.Set("after", resp.Paging.Cursors.After)
	}
	return bridge.SentRef{}, false, nil
}

// FindDM implements bridge.Replier: our message with text in the
// conversation with recipient (Conversations API, newest messages).
func (r *Replier) FindDM(ctx context.Context, account, recipient, text string) (bridge.SentRef, bool, error) {
	pg, err := r.page(account)
	if err != nil {
		return bridge.SentRef{}, false, err
	}
	platform := "messenger"
	if r.platform == Instagram {
		platform = "instagram"
	}
	q := url.Values{"user_id": {recipient}, "platform": {platform}, "fields": {"messages.limit(50){id,message,from,created_time}"}}
	var resp struct {
		Data []struct {
			Messages struct {
				Data []struct {
					ID      string `json:"id"`
					Message string `json:"message"`
					From    *actor `json:"from"`
				} `json:"data"`
			} `json:"messages"`
		} `json:"data"`
	}
	if err := r.g.call(ctx, r.platform, pg, "GET", "/"+pg.ID+"/conversations", q, nil, nil, &resp); err != nil {
		return bridge.SentRef{}, false, err
	}
	for _, c := range resp.Data {
		for _, m := range c.Messages.Data {
			if m.From != nil && m.From.ID == r.own(pg) && sameText(text, m.Message) {
				return bridge.SentRef{ID: m.ID}, true, nil
			}
		}
	}
	return bridge.SentRef{}, false, nil
}

// sameText compares a text sent with one read back: Meta stores what it
// was sent; only surrounding white space is not trusted.
func sameText(sent, seen string) bool { return strings.TrimSpace(sent) == strings.TrimSpace(seen) }
