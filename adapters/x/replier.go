package x

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/carebridge/carebridge/bridge"
)

// Replier answers as our official accounts: public replies through POST
// /2/tweets and DMs through POST /2/dm_conversations/with/:id/messages,
// each with the account's user-context credentials.
type Replier struct {
	c        *Client
	accounts map[string]replierAccount // lower-case handle
}

type replierAccount struct {
	Account
	auth Authorizer
}

var _ bridge.Replier = (*Replier)(nil)

// NewReplier returns a Replier; auths maps each account's handle to its
// user-context authorizer.
func NewReplier(c *Client, accounts []Account, auths map[string]Authorizer) *Replier {
	r := &Replier{c: c, accounts: map[string]replierAccount{}}
	for _, a := range accounts {
		r.accounts[strings.ToLower(a.Handle)] = replierAccount{Account: a, auth: auths[a.Handle]}
	}
	return r
}

func (r *Replier) account(handle string) (replierAccount, error) {
	a, ok := r.accounts[strings.ToLower(handle)]
	if !ok || a.auth == nil {
		return a, &bridge.SendError{Platform: "x", Code: "auth", Permanent: true, Err: fmt.Errorf("no credentials for account @%s", handle)}
	}
	return a, nil
}

// Reply implements bridge.Replier.
func (r *Replier) Reply(ctx context.Context, account, inReplyTo, text string) (bridge.SentRef, error) {
	a, err := r.account(account)
	if err != nil {
		return bridge.SentRef{}, err
	}
	body := map[string]any{"text": text, "reply": map[string]string{"in_reply_to_tweet_id": inReplyTo}}
	var resp struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := r.c.do(ctx, "create_tweet:"+a.UserID, "POST", "/2/tweets", nil, body, a.auth, &resp); err != nil {
		return bridge.SentRef{}, err
	}
	return bridge.SentRef{ID: resp.Data.ID, URL: "https://x.com/" + a.Handle + "/status/" + resp.Data.ID}, nil
}

// SendDM implements bridge.Replier.
func (r *Replier) SendDM(ctx context.Context, account, recipient, text string) (bridge.SentRef, error) {
	a, err := r.account(account)
	if err != nil {
		return bridge.SentRef{}, err
	}
	var resp struct {
		Data struct {
			ConversationID string `json:"dm_conversation_id"`
			EventID        string `json:"dm_event_id"`
		} `json:"data"`
	}
	path := "/2/dm_conversations/with/" + url.PathEscape(recipient) + "/messages"
	if err := r.c.do(ctx, "send_dm:"+a.UserID, "POST", path, nil, map[string]string{"text": text}, a.auth, &resp); err != nil {
		return bridge.SentRef{}, err
	}
	return bridge.SentRef{ID: "dm:" + resp.Data.EventID, URL: "https://x.com/messages/" + resp.Data.ConversationID}, nil
}

// FindReply implements bridge.Replier: it reads the account's newest
// posts and looks for a reply to inReplyTo with the same answer, as
// Network.SameAnswer compares them (X puts the replied-to author's
// @handle in front of a reply's text).
func (r *Replier) FindReply(ctx context.Context, account, inReplyTo, text string) (bridge.SentRef, bool, error) {
	return r.findOwn(ctx, account, text, func(t Tweet) bool {
		for _, ref := range t.ReferencedTweets {
			if ref.Type == "replied_to" && ref.ID == inReplyTo {
				return true
			}
		}
		return false
	})
}

// findOwn reads the account's newest posts (the last 100) and returns the
// first that is the answer text (Network.SameAnswer) and that match
// accepts.
func (r *Replier) findOwn(ctx context.Context, account, text string, match func(Tweet) bool) (bridge.SentRef, bool, error) {
	a, err := r.account(account)
	if err != nil {
		return bridge.SentRef{}, false, err
	}
	q := url.Values{"max_results": {"100"}, "tweet.fields": {"referenced_tweets,created_at"}}
	var pg Page
	if err := r.c.do(ctx, "user_tweets:"+a.UserID, "GET", "/2/users/"+a.UserID+"/tweets", q, nil, nil, &pg); err != nil {
		return bridge.SentRef{}, false, err
	}
	for _, raw := range pg.Data {
		var t Tweet
		if json.Unmarshal(raw, &t) != nil || !(Network{}).SameAnswer(text, t.Text) || !match(t) {
			continue
		}
		return bridge.SentRef{ID: t.ID, URL: "https://x.com/" + a.Handle + "/status/" + t.ID}, true, nil
	}
	return bridge.SentRef{}, false, nil
}

// FindDM implements bridge.Replier: it reads the conversation with
// recipient and looks for our message with the same text (DMs are stored
// as sent: no @handles in front).
func (r *Replier) FindDM(ctx context.Context, account, recipient, text string) (bridge.SentRef, bool, error) {
	a, err := r.account(account)
	if err != nil {
		return bridge.SentRef{}, false, err
	}
	q := url.Values{"max_results": {"100"}, "dm_event.fields": {"id,text,event_type,dm_conversation_id,sender_id,created_at"}, "event_types": {"MessageCreate"}}
	var resp struct {
		Data []DMEvent `json:"data"`
	}
	path := "/2/dm_conversations/with/" + url.PathEscape(recipient) + "/dm_events"
	if err := r.c.do(ctx, "dm_events:"+a.UserID, "GET", path, q, nil, a.auth, &resp); err != nil {
		return bridge.SentRef{}, false, err
	}
	for _, e := range resp.Data {
		if e.SenderID == a.UserID && sameDMText(text, e.Text) {
			return bridge.SentRef{ID: "dm:" + e.ID, URL: "https://x.com/messages/" + e.DMConversationID}, true, nil
		}
	}
	return bridge.SentRef{}, false, nil
}

var _ bridge.Poster = (*Replier)(nil)

// Post implements bridge.Poster: an original post (a greeting, a sign-off)
// through POST /2/tweets.
func (r *Replier) Post(ctx context.Context, account, text string) (bridge.SentRef, error) {
	a, err := r.account(account)
	if err != nil {
		return bridge.SentRef{}, err
	}
	var resp struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := r.c.do(ctx, "create_tweet:"+a.UserID, "POST", "/2/tweets", nil, map[string]any{"text": text}, a.auth, &resp); err != nil {
		return bridge.SentRef{}, err
	}
	return bridge.SentRef{ID: resp.Data.ID, URL: "https://x.com/" + a.Handle + "/status/" + resp.Data.ID}, nil
}

// FindPost implements bridge.Poster: it reads the account's newest posts
// and looks for an original post (not a reply) with the same text.
func (r *Replier) FindPost(ctx context.Context, account, text string) (bridge.SentRef, bool, error) {
	return r.findOwn(ctx, account, text, func(t Tweet) bool { return len(t.ReferencedTweets) == 0 })
}
