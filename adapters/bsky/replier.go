package bsky

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/carebridge/carebridge/bridge"
)

// Replier answers as our accounts: public replies through
// com.atproto.repo.createRecord and DMs through the chat service.
//
// A reply is sent effectively once with a record key of our choosing: a
// TID is chosen and saved in State (under the account, the post answered
// and the text) before createRecord is called, and the same key is used by
// every later attempt of the same answer. After an unknown outcome (a
// crash, a dropped connection) FindReply asks getRecord for that key; and
// since a second createRecord with a key already used fails (HTTP 500 on
// Bluesky's PDS today), an attempt that races a late first one cannot
// post twice either: its 500 is checked with getRecord too, never retried
// blindly.
type Replier struct{ c *Client }

var _ bridge.Replier = (*Replier)(nil)

// NewReplier returns a Replier.
func NewReplier(c *Client) *Replier { return &Replier{c: c} }

// replyKeyName is the State key of the record key chosen for an answer.
func replyKeyName(a *account, inReplyTo, text string) string {
	sum := sha256.Sum256([]byte(inReplyTo + "\x00" + text))
	return "bsky:rkey:" + strings.ToLower(a.Handle) + ":" + hex.EncodeToString(sum[:12])
}

// recordKey returns the record key saved for this answer, choosing and
// saving a new TID first if create is set and there is none.
func (r *Replier) recordKey(ctx context.Context, a *account, inReplyTo, text string, create bool) (string, error) {
	if r.c.state == nil {
		return "", &bridge.SendError{Platform: "bluesky", Code: "no_state", Permanent: true, Err: errors.New("bluesky replier has no State to keep record keys in")}
	}
	name := replyKeyName(a, inReplyTo, text)
	key, err := r.c.state.Get(ctx, name)
	if err != nil || key != "" || !create {
		return key, err
	}
	key = NewTID(r.c.clock.Now(), processClockID)
	if err := r.c.state.Set(ctx, name, key); err != nil {
		return "", fmt.Errorf("bluesky: save the record key before sending: %w", err)
	}
	return key, nil
}

// Reply implements bridge.Replier. inReplyTo is the AT-URI of the post
// answered; the reply links it as parent and its thread's root as root,
// both as strong refs (URI and CID, read with getPosts, which also says
// whether the thread's reply gate leaves us out).
func (r *Replier) Reply(ctx context.Context, account, inReplyTo, text string) (bridge.SentRef, error) {
	a, err := r.c.account(account)
	if err != nil {
		return bridge.SentRef{}, err
	}
	sess, err := r.c.session(ctx, a)
	if err != nil {
		return bridge.SentRef{}, err
	}
	views, err := r.c.getPostsAs(ctx, a, []string{inReplyTo})
	if err != nil {
		return bridge.SentRef{}, err
	}
	v, ok := views[inReplyTo]
	if !ok {
		return bridge.SentRef{}, &bridge.SendError{Platform: "bluesky", Code: CodePostGone, Permanent: true, Err: fmt.Errorf("bluesky: %s is gone", inReplyTo)}
	}
	if v.Viewer != nil && v.Viewer.ReplyDisabled {
		return bridge.SentRef{}, &bridge.SendError{Platform: "bluesky", Code: CodeReplyDisabled, Permanent: true, Err: fmt.Errorf("bluesky: the thread of %s does not accept our reply", inReplyTo)}
	}
	var parentRec PostRecord
	_ = json.Unmarshal(v.Record, &parentRec)
	parent := StrongRef{URI: v.URI, CID: v.CID}
	root := parent
	if parentRec.Reply != nil && parentRec.Reply.Root.URI != "" {
		root = parentRec.Reply.Root
	}
	known := map[string]string{strings.ToLower(v.Author.Handle): v.Author.DID}
	for did, h := range r.c.ourAccounts(ctx) {
		known[strings.ToLower(h)] = did
	}
	rec := PostRecord{Type: PostCollection, Text: text, CreatedAt: Datetime(r.c.clock.Now()),
		Reply: &ReplyRef{Root: root, Parent: parent}, Facets: Facets(text, r.resolver(ctx, a, known))}
	if len(parentRec.Langs) > 0 {
		rec.Langs = parentRec.Langs[:1]
	}
	rkey, err := r.recordKey(ctx, a, inReplyTo, text, true)
	if err != nil {
		return bridge.SentRef{}, err
	}
	if err := r.c.spend(a, createPoints); err != nil {
		return bridge.SentRef{}, err
	}
	var out StrongRef
	err = r.c.call(ctx, a, a.PDS, "com.atproto.repo.createRecord", nil,
		map[string]any{"repo": sess.DID, "collection": PostCollection, "rkey": rkey, "record": rec}, nil, &out)
	var se *bridge.SendError
	if errors.As(err, &se) && !se.Permanent && se.Code != CodeNetwork && se.Code != CodeRateLimited {
		// A 5xx: the PDS answers a record key used already with a 500.
		// Look before anything is sent again.
		if ref, found, ferr := r.lookUp(ctx, a, sess.DID, rkey, inReplyTo, text); ferr == nil && found {
			r.c.log.Info("bluesky createRecord failed but the reply exists: an earlier attempt made it", "account", a.Handle, "rkey", rkey, "err", err)
			return ref, nil
		}
	}
	if err != nil {
		return bridge.SentRef{}, err
	}
	return bridge.SentRef{ID: out.URI, URL: WebURL(out.URI, a.Handle)}, nil
}

// resolver maps a handle to a DID for mention facets: known handles
// first, then com.atproto.identity.resolveHandle; a handle that does not
// resolve stays plain text.
func (r *Replier) resolver(ctx context.Context, a *account, known map[string]string) func(string) string {
	return func(h string) string {
		if did, ok := known[h]; ok {
			return did
		}
		var out struct {
			DID string `json:"did"`
		}
		if err := r.c.call(ctx, nil, a.PDS, "com.atproto.identity.resolveHandle", url.Values{"handle": {h}}, nil, nil, &out); err != nil {
			return ""
		}
		known[h] = out.DID
		return out.DID
	}
}

// lookUp reads our post with record key rkey (getRecord needs no session)
// and reports whether it is the reply to inReplyTo with text.
func (r *Replier) lookUp(ctx context.Context, a *account, did, rkey, inReplyTo, text string) (bridge.SentRef, bool, error) {
	q := url.Values{"repo": {did}, "collection": {PostCollection}, "rkey": {rkey}}
	var out struct {
		URI   string     `json:"uri"`
		CID   string     `json:"cid"`
		Value PostRecord `json:"value"`
	}
	err := r.c.call(ctx, nil, a.PDS, "com.atproto.repo.getRecord", q, nil, nil, &out)
	var se *bridge.SendError
	if errors.As(err, &se) && se.Code == "RecordNotFound" {
		return bridge.SentRef{}, false, nil
	}
	if err != nil {
		return bridge.SentRef{}, false, err
	}
	if out.Value.Reply == nil || out.Value.Reply.Parent.URI != inReplyTo || !(Network{}).SameAnswer(text, out.Value.Text) {
		return bridge.SentRef{}, false, fmt.Errorf("bluesky: record %s holds another post than this answer", out.URI)
	}
	return bridge.SentRef{ID: out.URI, URL: WebURL(out.URI, a.Handle)}, true, nil
}

// FindReply implements bridge.Replier: the record key saved for this
// answer is looked up with getRecord. No saved key: no attempt was made.
func (r *Replier) FindReply(ctx context.Context, account, inReplyTo, text string) (bridge.SentRef, bool, error) {
	a, err := r.c.account(account)
	if err != nil {
		return bridge.SentRef{}, false, err
	}
	rkey, err := r.recordKey(ctx, a, inReplyTo, text, false)
	if err != nil || rkey == "" {
		return bridge.SentRef{}, false, err
	}
	sess, err := r.c.session(ctx, a)
	if err != nil {
		return bridge.SentRef{}, false, err
	}
	return r.lookUp(ctx, a, sess.DID, rkey, inReplyTo, text)
}

var chatHeader = http.Header{"Atproto-Proxy": {ChatProxy}}

// convo returns the id of our conversation with recipient (a DID). The
// chat service refuses here when the recipient does not accept our
// messages (MessagesDisabled, NotFollowedBySender, BlockedActor).
func (r *Replier) convo(ctx context.Context, a *account, recipient string) (string, error) {
	var out struct {
		Convo struct {
			ID string `json:"id"`
		} `json:"convo"`
	}
	err := r.c.call(ctx, a, a.PDS, "chat.bsky.convo.getConvoForMembers", url.Values{"members": {recipient}}, nil, chatHeader, &out)
	return out.Convo.ID, err
}

type messageView struct {
	ID     string `json:"id"`
	Text   string `json:"text"`
	Sender struct {
		DID string `json:"did"`
	} `json:"sender"`
	SentAt string `json:"sentAt"`
}

// SendDM implements bridge.Replier through chat.bsky.convo.sendMessage.
func (r *Replier) SendDM(ctx context.Context, account, recipient, text string) (bridge.SentRef, error) {
	a, err := r.c.account(account)
	if err != nil {
		return bridge.SentRef{}, err
	}
	id, err := r.convo(ctx, a, recipient)
	if err != nil {
		return bridge.SentRef{}, err
	}
	var out messageView
	if err := r.c.call(ctx, a, a.PDS, "chat.bsky.convo.sendMessage", nil,
		map[string]any{"convoId": id, "message": map[string]any{"text": text}}, chatHeader, &out); err != nil {
		return bridge.SentRef{}, err
	}
	return bridge.SentRef{ID: "dm:" + id + "/" + out.ID, URL: "https://bsky.app/messages/" + id}, nil
}

// FindDM implements bridge.Replier: it reads the newest messages of the
// conversation and looks for ours with the same text (chat messages have
// no key of our choosing).
func (r *Replier) FindDM(ctx context.Context, account, recipient, text string) (bridge.SentRef, bool, error) {
	a, err := r.c.account(account)
	if err != nil {
		return bridge.SentRef{}, false, err
	}
	sess, err := r.c.session(ctx, a)
	if err != nil {
		return bridge.SentRef{}, false, err
	}
	id, err := r.convo(ctx, a, recipient)
	if err != nil {
		return bridge.SentRef{}, false, err
	}
	var out struct {
		Messages []messageView `json:"messages"`
	}
	if err := r.c.call(ctx, a, a.PDS, "chat.bsky.convo.getMessages", url.Values{"convoId": {id}, "limit": {"100"}}, nil, chatHeader, &out); err != nil {
		return bridge.SentRef{}, false, err
	}
	for _, m := range out.Messages {
		if m.Sender.DID == sess.DID && (Network{}).SameAnswer(text, m.Text) {
			return bridge.SentRef{ID: "dm:" + id + "/" + m.ID, URL: "https://bsky.app/messages/" + id}, true, nil
		}
	}
	return bridge.SentRef{}, false, nil
}
