package x

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/carebridge/carebridge/bridge"
)

// Fields asked for on every tweet read.
var tweetQuery = url.Values{
	"tweet.fields": {"author_id,conversation_id,created_at,lang,referenced_tweets,entities,in_reply_to_user_id"},
	"expansions":   {"author_id,referenced_tweets.id,referenced_tweets.id.author_id"},
	"user.fields":  {"username,name"},
}

// Tweet is the part of an X API v2 tweet object carebridge reads.
type Tweet struct {
	ID               string `json:"id"`
	Text             string `json:"text"`
	AuthorID         string `json:"author_id"`
	ConversationID   string `json:"conversation_id"`
	CreatedAt        string `json:"created_at"`
	Lang             string `json:"lang"`
	InReplyToUserID  string `json:"in_reply_to_user_id"`
	ReferencedTweets []struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"referenced_tweets"`
	Entities struct {
		Mentions []struct {
			Username string `json:"username"`
			ID       string `json:"id"`
		} `json:"mentions"`
	} `json:"entities"`
}

// User is an X user object.
type User struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Name     string `json:"name"`
}

// Includes holds expanded objects.
type Includes struct {
	Users  []User  `json:"users"`
	Tweets []Tweet `json:"tweets"`
}

// Page is one page of a tweet list (search, mentions, timelines).
type Page struct {
	Data     []json.RawMessage `json:"data"`
	Includes Includes          `json:"includes"`
	Meta     struct {
		NewestID    string `json:"newest_id"`
		OldestID    string `json:"oldest_id"`
		ResultCount int    `json:"result_count"`
		NextToken   string `json:"next_token"`
	} `json:"meta"`
}

// DMEvent is an X API v2 DM event.
type DMEvent struct {
	ID               string `json:"id"`
	EventType        string `json:"event_type"`
	Text             string `json:"text"`
	SenderID         string `json:"sender_id"`
	DMConversationID string `json:"dm_conversation_id"`
	CreatedAt        string `json:"created_at"`
}

// Account is one of our official accounts.
type Account struct {
	Handle string
	UserID string
}

// Normalizer turns X objects into bridge posts. It knows our official
// accounts, to find the posts that mention or quote them and so may be
// answered publicly.
type Normalizer struct {
	byHandle   map[string]string // lower-case handle → handle
	byID       map[string]string // user id → handle
	enterprise bool
}

// NewNormalizer knows accounts; enterprise lifts the 2026 reply rule.
func NewNormalizer(accounts []Account, enterprise bool) *Normalizer {
	n := &Normalizer{byHandle: map[string]string{}, byID: map[string]string{}, enterprise: enterprise}
	for _, a := range accounts {
		n.byHandle[strings.ToLower(a.Handle)] = a.Handle
		if a.UserID != "" {
			n.byID[a.UserID] = a.Handle
		}
	}
	return n
}

// IsOfficial reports whether the user id is one of our accounts.
func (n *Normalizer) IsOfficial(userID string) bool { _, ok := n.byID[userID]; return ok }

// Tweet normalizes one tweet of a page. raw is the tweet's JSON.
func (n *Normalizer) Tweet(raw json.RawMessage, inc Includes, src bridge.SourceKind) (bridge.Post, error) {
	var t Tweet
	if err := json.Unmarshal(raw, &t); err != nil {
		return bridge.Post{}, err
	}
	users := map[string]User{}
	for _, u := range inc.Users {
		users[u.ID] = u
	}
	tweets := map[string]Tweet{}
	for _, it := range inc.Tweets {
		tweets[it.ID] = it
	}
	p := bridge.Post{
		Platform:        Platform,
		ExternalID:      t.ID,
		Source:          src,
		AuthorID:        t.AuthorID,
		Text:            t.Text,
		Lang:            t.Lang,
		ConversationKey: t.ConversationID,
		Raw:             append(json.RawMessage(nil), raw...),
	}
	if u, ok := users[t.AuthorID]; ok {
		p.AuthorHandle, p.AuthorName = u.Username, u.Name
	}
	if ts, err := time.Parse(time.RFC3339, t.CreatedAt); err == nil {
		p.CreatedAt = ts.UTC()
	}
	if p.ConversationKey == "" {
		p.ConversationKey = t.ID
	}
	// Escaped, so that an odd handle or id cannot turn the link into
	// another one (X's handles and ids need no escaping).
	if p.AuthorHandle != "" {
		p.URL = "https://x.com/" + url.PathEscape(p.AuthorHandle) + "/status/" + url.PathEscape(t.ID)
	} else {
		p.URL = "https://x.com/i/web/status/" + url.PathEscape(t.ID)
	}
	seen := map[string]bool{}
	add := func(handle string) {
		h := strings.ToLower(handle)
		if !seen[h] {
			seen[h] = true
			p.Mentions = append(p.Mentions, h)
		}
	}
	for _, m := range t.Entities.Mentions {
		if h, ok := n.byHandle[strings.ToLower(m.Username)]; ok {
			add(h)
		} else if h, ok := n.byID[m.ID]; ok && m.ID != "" {
			add(h)
		}
	}
	for _, r := range t.ReferencedTweets {
		switch r.Type {
		case "replied_to":
			p.InReplyTo = r.ID
		case "quoted":
			if q, ok := tweets[r.ID]; ok {
				if h, ok := n.byID[q.AuthorID]; ok {
					add(h) // quoting our post counts as engaging our account
				}
			}
		}
	}
	switch {
	case n.enterprise || len(p.Mentions) > 0 || n.IsOfficial(t.AuthorID):
		p.Eligibility = bridge.EligiblePublic
	default:
		p.Eligibility = bridge.EligibleDMOnly
	}
	return p, nil
}

// Page normalizes every tweet of a page, skipping ones that do not decode.
func (n *Normalizer) Page(pg *Page, src bridge.SourceKind) []bridge.Post {
	out := make([]bridge.Post, 0, len(pg.Data))
	for _, raw := range pg.Data {
		if p, err := n.Tweet(raw, pg.Includes, src); err == nil && p.ExternalID != "" {
			out = append(out, p)
		}
	}
	return out
}

// DM normalizes a DM event received by account. An event without an id
// is an error (it could not be told apart from another).
func (n *Normalizer) DM(raw json.RawMessage, users map[string]User, account string) (bridge.Post, error) {
	var e DMEvent
	if err := json.Unmarshal(raw, &e); err != nil {
		return bridge.Post{}, err
	}
	if e.ID == "" {
		return bridge.Post{}, errors.New("DM event without an id")
	}
	p := bridge.Post{
		Platform:        Platform,
		ExternalID:      "dm:" + e.ID,
		Source:          bridge.SourceDM,
		AuthorID:        e.SenderID,
		Text:            e.Text,
		ConversationKey: "dm:" + e.DMConversationID,
		Eligibility:     bridge.EligibleDM,
		Mentions:        []string{strings.ToLower(account)},
		Raw:             append(json.RawMessage(nil), raw...),
	}
	if u, ok := users[e.SenderID]; ok {
		p.AuthorHandle, p.AuthorName = u.Username, u.Name
	}
	if ts, err := time.Parse(time.RFC3339, e.CreatedAt); err == nil {
		p.CreatedAt = ts.UTC()
	}
	if e.DMConversationID != "" {
		p.URL = "https://x.com/messages/" + url.PathEscape(e.DMConversationID)
	}
	return p, nil
}
