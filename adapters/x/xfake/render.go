package xfake

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// timeFormat is X's created_at format.
const timeFormat = "2006-01-02T15:04:05.000Z"

// The values X accepts for the field and expansion parameters. Requesting a
// field that the fake does not model is accepted; the field is then absent,
// as X leaves out fields that do not apply.
var (
	tweetFieldNames = []string{"article", "attachments", "author_id", "card_uri", "community_id", "context_annotations",
		"conversation_id", "created_at", "display_text_range", "edit_controls", "edit_history_tweet_ids", "entities",
		"geo", "id", "in_reply_to_user_id", "lang", "media_metadata", "non_public_metrics", "note_tweet",
		"organic_metrics", "possibly_sensitive", "promoted_metrics", "public_metrics", "referenced_tweets",
		"reply_settings", "scopes", "source", "text", "withheld"}
	userFieldNames = []string{"affiliation", "connection_status", "created_at", "description", "entities", "id",
		"location", "most_recent_tweet_id", "name", "pinned_tweet_id", "profile_banner_url", "profile_image_url",
		"protected", "public_metrics", "receives_your_dm", "subscription_type", "url", "username", "verified",
		"verified_type", "withheld"}
	tweetExpansionNames = []string{"article.cover_media", "article.media_entities", "attachments.media_keys",
		"attachments.media_source_tweet", "attachments.poll_ids", "author_id", "edit_history_tweet_ids",
		"entities.mentions.username", "entities.note.mentions.username", "geo.place_id", "in_reply_to_user_id",
		"referenced_tweets.id", "referenced_tweets.id.attachments.media_keys", "referenced_tweets.id.author_id"}
	userExpansionNames = []string{"affiliation.user_id", "most_recent_tweet_id", "pinned_tweet_id"}
	dmFieldNames       = []string{"attachments", "created_at", "dm_conversation_id", "entities", "event_type", "id",
		"participant_ids", "referenced_tweets", "sender_id", "text"}
	dmExpansionNames = []string{"attachments.media_keys", "participant_ids", "referenced_tweets.id", "sender_id"}
	dmEventTypeNames = []string{"MessageCreate", "ParticipantsJoin", "ParticipantsLeave"}
)

// view is what a request asked to see.
type view struct {
	tweet map[string]bool // tweet.fields
	user  map[string]bool // user.fields
	dm    map[string]bool // dm_event.fields
	exp   map[string]bool // expansions
}

// parseList reads a comma-separated parameter and checks it against allowed,
// answering like X: "The `tweet.fields` query parameter value [foo] is not
// one of [...]".
func parseList(q url.Values, param string, allowed []string) (map[string]bool, *problem) {
	set := map[string]bool{}
	for _, v := range csv(q.Get(param)) {
		if !slices.Contains(allowed, v) {
			p := invalidRequest(param, v, fmt.Sprintf("The `%s` query parameter value [%s] is not one of [%s]", param, v, strings.Join(allowed, ",")))
			return nil, &p
		}
		set[v] = true
	}
	return set, nil
}

// tweetView parses tweet.fields, user.fields and expansions.
func tweetView(q url.Values, userExpansions bool) (view, *problem) {
	var v view
	var p *problem
	if v.tweet, p = parseList(q, "tweet.fields", tweetFieldNames); p != nil {
		return v, p
	}
	if v.user, p = parseList(q, "user.fields", userFieldNames); p != nil {
		return v, p
	}
	exp := tweetExpansionNames
	if userExpansions {
		exp = userExpansionNames
	}
	if v.exp, p = parseList(q, "expansions", exp); p != nil {
		return v, p
	}
	return v, nil
}

func fmtTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// renderTweet renders a tweet with the requested fields. id, text and
// edit_history_tweet_ids are always present, as on X.
func (s *Server) renderTweetLocked(t *Tweet, v view) map[string]any {
	m := map[string]any{"id": t.ID, "text": t.Text, "edit_history_tweet_ids": []string{t.ID}}
	f := v.tweet
	if f["author_id"] {
		m["author_id"] = t.AuthorID
	}
	if f["conversation_id"] {
		m["conversation_id"] = t.ConversationID
	}
	if f["created_at"] {
		m["created_at"] = fmtTime(t.CreatedAt)
	}
	if f["lang"] {
		m["lang"] = t.Lang
	}
	if f["in_reply_to_user_id"] && t.InReplyToUserID != "" {
		m["in_reply_to_user_id"] = t.InReplyToUserID
	}
	if f["referenced_tweets"] && len(t.ReferencedTweets) > 0 {
		refs := make([]map[string]string, 0, len(t.ReferencedTweets))
		for _, r := range t.ReferencedTweets {
			refs = append(refs, map[string]string{"type": r.Type, "id": r.ID})
		}
		m["referenced_tweets"] = refs
	}
	if f["entities"] {
		if e := renderEntities(t.Text, t.Mentions, t.Hashtags); e != nil {
			m["entities"] = e
		}
	}
	if f["public_metrics"] {
		m["public_metrics"] = map[string]int{"retweet_count": 0, "reply_count": 0, "like_count": 0, "quote_count": 0, "bookmark_count": 0, "impression_count": 0}
	}
	if f["possibly_sensitive"] {
		m["possibly_sensitive"] = false
	}
	if f["reply_settings"] {
		m["reply_settings"] = cmp.Or(t.ReplySettings, ReplyEveryone)
	}
	if f["edit_controls"] {
		m["edit_controls"] = map[string]any{"edits_remaining": 5, "is_edit_eligible": true, "editable_until": fmtTime(t.CreatedAt.Add(time.Hour))}
	}
	return m
}

func renderEntities(text string, mentions []Mention, hashtags []Hashtag) map[string]any {
	e := map[string]any{}
	if len(mentions) > 0 {
		ms := make([]map[string]any, 0, len(mentions))
		for _, mn := range mentions {
			x := map[string]any{"start": mn.Start, "end": mn.End, "username": mn.Username}
			if mn.ID != "" {
				x["id"] = mn.ID
			}
			ms = append(ms, x)
		}
		e["mentions"] = ms
	}
	if len(hashtags) > 0 {
		hs := make([]map[string]any, 0, len(hashtags))
		for _, h := range hashtags {
			hs = append(hs, map[string]any{"start": h.Start, "end": h.End, "tag": h.Tag})
		}
		e["hashtags"] = hs
	}
	if locs := findURLs(text); len(locs) > 0 {
		us := make([]map[string]any, 0, len(locs))
		for _, l := range locs {
			u := text[l[0]:l[1]]
			display := strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
			us = append(us, map[string]any{"start": runeOffset(text, l[0]), "end": runeOffset(text, l[1]), "url": u, "expanded_url": u, "display_url": display})
		}
		e["urls"] = us
	}
	if len(e) == 0 {
		return nil
	}
	return e
}

// renderUserLocked renders a user; id, name and username are always present.
func (s *Server) renderUserLocked(u *User, f map[string]bool) map[string]any {
	m := map[string]any{"id": u.ID, "name": u.Name, "username": u.Username}
	if f["created_at"] {
		m["created_at"] = fmtTime(u.CreatedAt)
	}
	if f["description"] {
		m["description"] = u.Description
	}
	if f["protected"] {
		m["protected"] = u.Protected
	}
	if f["verified"] {
		m["verified"] = u.Verified
	}
	if f["verified_type"] {
		if u.Verified {
			m["verified_type"] = "blue"
		} else {
			m["verified_type"] = "none"
		}
	}
	if f["profile_image_url"] {
		m["profile_image_url"] = "https://abs.twimg.com/sticky/default_profile_images/default_profile_normal.png"
	}
	if f["public_metrics"] {
		n := 0
		for _, t := range s.tweetList {
			if t.AuthorID == u.ID {
				n++
			}
		}
		m["public_metrics"] = map[string]int{"followers_count": 0, "following_count": 0, "tweet_count": n, "listed_count": 0}
	}
	if f["url"] {
		m["url"] = ""
	}
	if f["receives_your_dm"] {
		m["receives_your_dm"] = !u.RejectsDMs
	}
	return m
}

// userCollector gathers expanded users in first-seen order.
type userCollector struct {
	s     *Server
	f     map[string]bool
	seen  map[string]bool
	users []map[string]any
}

func (c *userCollector) add(id string) {
	if id == "" || c.seen[id] {
		return
	}
	c.seen[id] = true
	if u := c.s.users[id]; u != nil {
		c.users = append(c.users, c.s.renderUserLocked(u, c.f))
	}
}

// includesLocked builds includes (and partial errors) for the expansions.
func (s *Server) includesLocked(tweets []*Tweet, v view) (map[string]any, []resourceError) {
	uc := &userCollector{s: s, f: v.user, seen: map[string]bool{}}
	var errs []resourceError
	var refs []map[string]any
	seenRef := map[string]bool{}
	for _, t := range tweets {
		if v.exp["author_id"] {
			uc.add(t.AuthorID)
		}
		if v.exp["in_reply_to_user_id"] {
			uc.add(t.InReplyToUserID)
		}
		if v.exp["entities.mentions.username"] {
			for _, m := range t.Mentions {
				if m.ID != "" {
					uc.add(m.ID)
				} else if !seenRef["@"+m.Username] {
					seenRef["@"+m.Username] = true
					errs = append(errs, notFound("user", "entities.mentions.username", m.Username))
				}
			}
		}
		if v.exp["referenced_tweets.id"] || v.exp["referenced_tweets.id.author_id"] {
			for _, r := range t.ReferencedTweets {
				if seenRef[r.ID] {
					continue
				}
				seenRef[r.ID] = true
				rt := s.tweets[r.ID]
				if rt == nil {
					errs = append(errs, notFound("tweet", "referenced_tweets.id", r.ID))
					continue
				}
				if v.exp["referenced_tweets.id"] {
					refs = append(refs, s.renderTweetLocked(&rt.Tweet, v))
				}
				if v.exp["referenced_tweets.id.author_id"] {
					uc.add(rt.AuthorID)
				}
			}
		}
	}
	inc := map[string]any{}
	if len(uc.users) > 0 {
		inc["users"] = uc.users
	}
	if len(refs) > 0 {
		inc["tweets"] = refs
	}
	if len(inc) == 0 {
		inc = nil
	}
	return inc, errs
}

// renderDMLocked renders a DM event; id, event_type and text are default.
func (s *Server) renderDMLocked(e *dmRec, f map[string]bool) map[string]any {
	m := map[string]any{"id": e.ID, "event_type": e.EventType}
	if e.EventType == "MessageCreate" {
		m["text"] = e.Text
	}
	if f["dm_conversation_id"] {
		m["dm_conversation_id"] = e.DMConversationID
	}
	if f["created_at"] {
		m["created_at"] = fmtTime(e.CreatedAt)
	}
	if f["sender_id"] {
		m["sender_id"] = e.SenderID
	}
	if f["entities"] && e.EventType == "MessageCreate" {
		t := Tweet{Text: e.Text}
		s.parseEntitiesLocked(&t)
		if ent := renderEntities(t.Text, t.Mentions, t.Hashtags); ent != nil {
			m["entities"] = ent
		}
	}
	return m
}

// listResponse is the body of every list endpoint. Empty data is left out,
// so an empty result is {"meta":{"result_count":0}}.
type listResponse struct {
	Data     []map[string]any `json:"data,omitempty"`
	Includes map[string]any   `json:"includes,omitempty"`
	Errors   []resourceError  `json:"errors,omitempty"`
	Meta     map[string]any   `json:"meta"`
}

// singleResponse is the body of single-object lookups.
type singleResponse struct {
	Data     map[string]any  `json:"data,omitempty"`
	Includes map[string]any  `json:"includes,omitempty"`
	Errors   []resourceError `json:"errors,omitempty"`
}
