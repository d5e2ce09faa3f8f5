package xfake

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// snowflakeEpochMS is X's snowflake epoch: created_ms = (id>>22) + epoch.
const snowflakeEpochMS = 1288834974657

// User is an X account known to the fake.
type User struct {
	// ID is the numeric user id as a decimal string. Required.
	ID string
	// Username is the handle without "@". Required.
	Username string
	// Name is the display name; defaults to Username.
	Name string
	// Description is the profile bio (user.fields=description).
	Description string
	// CreatedAt is the account creation time (user.fields=created_at);
	// defaults to 2015-01-01.
	CreatedAt time.Time
	// Protected marks a protected account (user.fields=protected).
	Protected bool
	// Verified marks a verified account (user.fields=verified).
	Verified bool
	// RejectsDMs makes POST /2/dm_conversations/with/:id/messages to this
	// user fail with 403, like an account whose DMs are closed to us. It is
	// also reported as user.fields=receives_your_dm=false.
	RejectsDMs bool
	// Follows lists the ids of the accounts this user follows (it matters
	// for posts with ReplySettings ReplyFollowing).
	Follows []string
}

// Reply settings of a post (reply_settings).
const (
	ReplyEveryone       = "everyone"
	ReplyMentionedUsers = "mentionedUsers"
	ReplyFollowing      = "following"
)

// ReferencedTweet is an entry of a tweet's referenced_tweets.
type ReferencedTweet struct {
	// Type is "replied_to", "quoted" or "retweeted".
	Type string
	// ID is the referenced tweet's id.
	ID string
}

// Mention is an entities.mentions entry. Start and End count code points.
type Mention struct {
	Start, End int
	Username   string
	// ID is the mentioned user's id when the user is known to the fake.
	ID string
}

// Hashtag is an entities.hashtags entry. Start and End count code points.
type Hashtag struct {
	Start, End int
	Tag        string
}

// Tweet is a post. When seeding with AddTweet, set Text, AuthorID and
// optionally ID, CreatedAt, Lang and one of InReplyToTweetID, QuotedTweetID,
// RetweetedTweetID; the server fills in the rest.
type Tweet struct {
	// ID is the snowflake id. Empty: assigned from CreatedAt (or the clock).
	ID string
	// Text is the post text as the API returns it. A reply created through
	// POST /2/tweets starts with the @handles X puts in front of it (the
	// replied-to author, and the others leading that post's text).
	Text string
	// AuthorID is the author's user id. Unknown authors get a placeholder
	// user "user<id>" (replace it by calling AddUser first).
	AuthorID string
	// CreatedAt is derived from ID when ID is set; otherwise it defaults to
	// the server clock.
	CreatedAt time.Time
	// ConversationID defaults to the replied-to tweet's conversation, or
	// the tweet's own id.
	ConversationID string
	// InReplyToTweetID makes the tweet a reply (referenced_tweets replied_to).
	InReplyToTweetID string
	// QuotedTweetID makes the tweet a quote (referenced_tweets quoted).
	QuotedTweetID string
	// RetweetedTweetID makes the tweet a retweet (referenced_tweets retweeted).
	RetweetedTweetID string
	// ReplySettings is who may reply, as its author chose: ReplyEveryone
	// (the default), ReplyMentionedUsers or ReplyFollowing. It restricts
	// replies to this post and, set on a conversation's first post, to
	// the whole conversation.
	ReplySettings string
	// Lang is the BCP47 language; by default a crude script guess: "ja" for
	// kana, "ko" for Hangul, "zh" for other Han text, otherwise "en".
	Lang string

	// InReplyToUserID is derived: the author of InReplyToTweetID.
	InReplyToUserID string
	// ReferencedTweets is derived from the three reference fields above.
	ReferencedTweets []ReferencedTweet
	// Mentions is derived: @handles parsed from Text.
	Mentions []Mention
	// Hashtags is derived: #tags parsed from Text.
	Hashtags []Hashtag
}

// DMEvent is a direct-message event in a 1:1 conversation.
type DMEvent struct {
	// ID is the event id; assigned from CreatedAt or the clock when empty.
	ID string
	// EventType defaults to "MessageCreate".
	EventType string
	// Text is the message text.
	Text string
	// SenderID is the sending user's id. Required.
	SenderID string
	// RecipientID is the other participant. AddDM needs it unless
	// DMConversationID is set; it is derived when reading events back.
	RecipientID string
	// DMConversationID is "<lower id>-<higher id>" (numeric order); derived.
	DMConversationID string
	// CreatedAt is derived from ID when ID is set, else defaults to the clock.
	CreatedAt time.Time
}

// StreamRule is a filtered-stream rule.
type StreamRule struct {
	ID    string
	Value string
	Tag   string
}

// tweetRec is a stored tweet with its parsed id.
type tweetRec struct {
	Tweet
	n    uint64
	sent bool // created through POST /2/tweets
	// requestText is the text of the POST /2/tweets request, before X put
	// a reply's @handles in front of it.
	requestText string
}

type dmRec struct {
	DMEvent
	n    uint64
	a, b string // participants
	sent bool
}

type ruleRec struct {
	StreamRule
	q *query
}

// snowflakeTime returns the creation time encoded in an id.
func snowflakeTime(n uint64) time.Time {
	return time.UnixMilli(int64(n>>22) + snowflakeEpochMS).UTC()
}

// snowflakeFloor returns the smallest id created at t.
func snowflakeFloor(t time.Time) uint64 {
	ms := t.UnixMilli() - snowflakeEpochMS
	if ms < 0 {
		return 0
	}
	return uint64(ms) << 22
}

func parseID(s string) (uint64, bool) {
	if s == "" || len(s) > 19 {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

func fmtID(n uint64) string { return strconv.FormatUint(n, 10) }

// newIDLocked returns an unused snowflake id for time t. Ids made for the
// same millisecond increase, so later posts get larger ids.
func (s *Server) newIDLocked(t time.Time) uint64 {
	n := snowflakeFloor(t)
	for s.usedIDs[n] {
		n++
	}
	s.usedIDs[n] = true
	return n
}

// dmConversationID is the 1:1 conversation id: the two ids, numerically lower
// first, joined by "-".
func dmConversationID(a, b string) string {
	na, _ := parseID(a)
	nb, _ := parseID(b)
	if na > nb || (na == nb && a > b) {
		a, b = b, a
	}
	return a + "-" + b
}

var (
	mentionRE = regexp.MustCompile(`(?:^|[^A-Za-z0-9_@!#$%&*])@([A-Za-z0-9_]{1,15})\b`)
	hashtagRE = regexp.MustCompile(`(?:^|[^\p{L}\p{N}_&#])#([\p{L}\p{N}_]*[\p{L}_][\p{L}\p{N}_]*)`)
)

// runeOffset converts a byte offset in s to a code-point offset.
func runeOffset(s string, byteOff int) int { return utf8.RuneCountInString(s[:byteOff]) }

// parseEntitiesLocked fills Mentions and Hashtags from the text.
func (s *Server) parseEntitiesLocked(t *Tweet) {
	t.Mentions, t.Hashtags = nil, nil
	for _, m := range mentionRE.FindAllStringSubmatchIndex(t.Text, -1) {
		at := m[2] - 1 // the '@'
		name := t.Text[m[2]:m[3]]
		men := Mention{Start: runeOffset(t.Text, at), End: runeOffset(t.Text, m[3]), Username: name}
		if u := s.userByNameLocked(name); u != nil {
			men.Username = u.Username
			men.ID = u.ID
		}
		t.Mentions = append(t.Mentions, men)
	}
	for _, m := range hashtagRE.FindAllStringSubmatchIndex(t.Text, -1) {
		at := m[2] - 1
		t.Hashtags = append(t.Hashtags, Hashtag{Start: runeOffset(t.Text, at), End: runeOffset(t.Text, m[3]), Tag: t.Text[m[2]:m[3]]})
	}
}

// guessLang is a deliberately crude language guess from the script.
func guessLang(text string) string {
	han := false
	for _, r := range text {
		switch {
		case unicode.In(r, unicode.Hiragana, unicode.Katakana):
			return "ja"
		case unicode.Is(unicode.Hangul, r):
			return "ko"
		case unicode.Is(unicode.Han, r):
			han = true
		}
	}
	if han {
		return "zh"
	}
	return "en"
}

func (s *Server) userByNameLocked(name string) *User {
	return s.usersByName[strings.ToLower(name)]
}

// userLocked returns the user with that id, creating a placeholder when the
// id is unknown and create is set.
func (s *Server) userLocked(id string, create bool) *User {
	if u := s.users[id]; u != nil || !create || id == "" {
		return u
	}
	u := &User{ID: id, Username: "user" + id, Name: "User " + id}
	s.users[id] = u
	s.usersByName[strings.ToLower(u.Username)] = u
	return u
}

// AddUser adds or replaces a user. Tweets already stored keep their parsed
// mentions; add users before the tweets that mention them.
func (s *Server) AddUser(u User) {
	if u.Name == "" {
		u.Name = u.Username
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.users[u.ID]; old != nil {
		delete(s.usersByName, strings.ToLower(old.Username))
	}
	uc := u
	s.users[u.ID] = &uc
	s.usersByName[strings.ToLower(u.Username)] = &uc
}

// AddTweet stores a tweet as if a user had posted it and returns it with the
// derived fields filled in. Matching filtered-stream connections receive it.
// A tweet with an id that is already stored replaces nothing and is returned
// as stored.
func (s *Server) AddTweet(t Tweet) Tweet {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.addTweetLocked(t, false)
	return cloneTweet(&rec.Tweet)
}

func (s *Server) addTweetLocked(t Tweet, sent bool) *tweetRec {
	var n uint64
	if id, ok := parseID(t.ID); ok {
		if old := s.tweets[t.ID]; old != nil {
			return old
		}
		n = id
		s.usedIDs[n] = true
		t.CreatedAt = snowflakeTime(n)
	} else {
		if t.CreatedAt.IsZero() {
			t.CreatedAt = s.now()
		}
		n = s.newIDLocked(t.CreatedAt)
		t.ID = fmtID(n)
		t.CreatedAt = snowflakeTime(n)
	}
	s.userLocked(t.AuthorID, true)
	if t.Lang == "" {
		t.Lang = guessLang(t.Text)
	}
	t.ReferencedTweets = nil
	t.InReplyToUserID = ""
	if t.InReplyToTweetID != "" {
		t.ReferencedTweets = append(t.ReferencedTweets, ReferencedTweet{"replied_to", t.InReplyToTweetID})
		if parent := s.tweets[t.InReplyToTweetID]; parent != nil {
			t.InReplyToUserID = parent.AuthorID
			if t.ConversationID == "" {
				t.ConversationID = parent.ConversationID
			}
		}
	}
	if t.QuotedTweetID != "" {
		t.ReferencedTweets = append(t.ReferencedTweets, ReferencedTweet{"quoted", t.QuotedTweetID})
	}
	if t.RetweetedTweetID != "" {
		t.ReferencedTweets = append(t.ReferencedTweets, ReferencedTweet{"retweeted", t.RetweetedTweetID})
	}
	if t.ConversationID == "" {
		t.ConversationID = t.ID
	}
	s.parseEntitiesLocked(&t)
	rec := &tweetRec{Tweet: t, n: n, sent: sent}
	s.tweets[t.ID] = rec
	i := sort.Search(len(s.tweetList), func(i int) bool { return s.tweetList[i].n < n })
	s.tweetList = append(s.tweetList, nil)
	copy(s.tweetList[i+1:], s.tweetList[i:])
	s.tweetList[i] = rec
	s.publishLocked(rec)
	return rec
}

// AddDM stores a direct message as if SenderID had sent it to RecipientID (or
// into DMConversationID) and returns it with the derived fields filled in.
func (s *Server) AddDM(e DMEvent) DMEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addDMLocked(e, false).DMEvent
}

func (s *Server) addDMLocked(e DMEvent, sent bool) *dmRec {
	if e.EventType == "" {
		e.EventType = "MessageCreate"
	}
	a, b := e.SenderID, e.RecipientID
	if b == "" && e.DMConversationID != "" {
		if x, y, ok := strings.Cut(e.DMConversationID, "-"); ok {
			if x == a {
				b = y
			} else {
				b = x
			}
		}
	}
	e.RecipientID = b
	e.DMConversationID = dmConversationID(a, b)
	var n uint64
	if id, ok := parseID(e.ID); ok {
		n = id
		s.usedIDs[n] = true
	} else {
		if e.CreatedAt.IsZero() {
			e.CreatedAt = s.now()
		}
		n = s.newIDLocked(e.CreatedAt)
		e.ID = fmtID(n)
	}
	e.CreatedAt = snowflakeTime(n)
	rec := &dmRec{DMEvent: e, n: n, a: a, b: b, sent: sent}
	i := sort.Search(len(s.dms), func(i int) bool { return s.dms[i].n < n })
	s.dms = append(s.dms, nil)
	copy(s.dms[i+1:], s.dms[i:])
	s.dms[i] = rec
	return rec
}

func cloneTweet(t *Tweet) Tweet {
	c := *t
	c.ReferencedTweets = append([]ReferencedTweet(nil), t.ReferencedTweets...)
	c.Mentions = append([]Mention(nil), t.Mentions...)
	c.Hashtags = append([]Hashtag(nil), t.Hashtags...)
	return c
}

// docLocked builds the matchable view of a tweet.
func (s *Server) docLocked(t *Tweet) *doc {
	d := &doc{t: t, lower: strings.ToLower(t.Text), tokens: tokenize(t.Text)}
	if u := s.users[t.AuthorID]; u != nil {
		d.authorName = strings.ToLower(u.Username)
	}
	if u := s.users[t.InReplyToUserID]; u != nil {
		d.replyName = strings.ToLower(u.Username)
	}
	return d
}
