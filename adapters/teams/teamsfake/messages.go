package teamsfake

import (
	"encoding/json"
	"html"
	"regexp"
	"strings"
	"time"
)

// Message is a message in a channel, as the fake keeps it.
type Message struct {
	ID         string // 13-digit epoch milliseconds
	ChannelID  string
	RootID     string // the thread's root; == ID for a top-level post
	FromBot    bool
	From       User // the person, when not the bot
	Text       string
	TextFormat string
	Summary    string
	Card       json.RawMessage // the Adaptive Card's content, if any (its current state)
	Entities   []Mention       // mentions whose text is in the message
	Reactions  map[string][]string
	Deleted    bool
	Updates    int // how many times the bot rewrote it
	Created    time.Time
	Activity   json.RawMessage // the activity as last sent by the bot
	seq        int
}

// Mention is a mention entity of a message.
type Mention struct {
	ID   string
	Name string
	Type string // "tag" for a tag mention, else ""
	Text string // "<at>Name</at>"
}

// IsRoot reports whether m is a thread's first message.
func (m Message) IsRoot() bool { return m.ID == m.RootID }

func (m *Message) clone() Message {
	c := *m
	c.Entities = append([]Mention(nil), m.Entities...)
	c.Reactions = map[string][]string{}
	for k, v := range m.Reactions {
		c.Reactions[k] = append([]string(nil), v...)
	}
	return c
}

// Plain is what a person reads in the message: its text without markup
// (mentions as "@Name") and the text of its card, one block a line
// (Containers read in order), with its buttons as "[Approve]" (an
// ActionSet's where it stands, the card's own at the end).
func (m Message) Plain() string {
	var lines []string
	if m.Text != "" {
		lines = append(lines, htmlToPlain(m.Text))
	}
	if len(m.Card) > 0 {
		var card struct {
			Body    []json.RawMessage `json:"body"`
			Actions []cardAction      `json:"actions"`
		}
		_ = json.Unmarshal(m.Card, &card)
		lines = append(lines, plainElements(card.Body)...)
		if b := buttonLine(card.Actions); b != "" {
			lines = append(lines, b)
		}
	}
	return strings.Join(lines, "\n")
}

// cardElement is what the fake reads of a card's body element.
type cardElement struct {
	Type    string `json:"type"`
	Text    string `json:"text"`
	Inlines []struct {
		Text string `json:"text"`
	} `json:"inlines"`
	Items   []json.RawMessage `json:"items"`   // Container
	Actions []cardAction      `json:"actions"` // ActionSet
}

func plainElements(body []json.RawMessage) []string {
	var lines []string
	for _, raw := range body {
		var el cardElement
		_ = json.Unmarshal(raw, &el)
		switch el.Type {
		case "TextBlock":
			lines = append(lines, atToName(el.Text))
		case "RichTextBlock":
			var b strings.Builder
			for _, in := range el.Inlines {
				b.WriteString(in.Text)
			}
			lines = append(lines, b.String())
		case "Container":
			lines = append(lines, plainElements(el.Items)...)
		case "ActionSet":
			if b := buttonLine(el.Actions); b != "" {
				lines = append(lines, b)
			}
		}
	}
	return lines
}

func buttonLine(actions []cardAction) string {
	var buttons []string
	for _, a := range actions {
		buttons = append(buttons, "["+a.Title+"]")
	}
	return strings.Join(buttons, " ")
}

// Buttons lists the titles of the card's Action.Submit and Action.Execute
// buttons, those of ActionSets in its body first, in order (none once the
// card was updated without them).
func (m Message) Buttons() []string {
	var out []string
	for _, a := range cardActions(m.Card) {
		if a.Type == "Action.Submit" || a.Type == "Action.Execute" {
			out = append(out, a.Title)
		}
	}
	return out
}

type cardAction struct {
	Type  string          `json:"type"`
	Title string          `json:"title"`
	Data  json.RawMessage `json:"data"`
	Verb  string          `json:"verb"`
}

// cardActions lists a card's actions: its body's ActionSets (inside
// Containers too), in order, then the card's own.
func cardActions(card json.RawMessage) []cardAction {
	var c struct {
		Body    []json.RawMessage `json:"body"`
		Actions []cardAction      `json:"actions"`
	}
	_ = json.Unmarshal(card, &c)
	return append(bodyActions(c.Body), c.Actions...)
}

func bodyActions(body []json.RawMessage) []cardAction {
	var out []cardAction
	for _, raw := range body {
		var el cardElement
		_ = json.Unmarshal(raw, &el)
		switch el.Type {
		case "Container":
			out = append(out, bodyActions(el.Items)...)
		case "ActionSet":
			out = append(out, el.Actions...)
		}
	}
	return out
}

var atTag = regexp.MustCompile(`<at>(.*?)</at>`)

func atToName(s string) string { return atTag.ReplaceAllString(s, "@$1") }

var anyTag = regexp.MustCompile(`<[a-zA-Z/!][^>]*>`)

// htmlToPlain reads Teams' HTML subset as a person sees it.
func htmlToPlain(s string) string {
	s = atToName(s)
	s = strings.NewReplacer("<br>", "\n", "<br/>", "\n", "<br />", "\n").Replace(s)
	s = anyTag.ReplaceAllString(s, "")
	return html.UnescapeString(s)
}

// Posts returns the top-level messages of a channel (thread roots), in
// posting order, deleted ones included (Deleted set).
func (s *Server) Posts(channelID string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sortedMessages(func(m *Message) bool { return m.ChannelID == channelID && m.IsRoot() })
}

// Thread returns a thread: its root, then its replies in order.
func (s *Server) Thread(channelID, rootID string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sortedMessages(func(m *Message) bool { return m.ChannelID == channelID && m.RootID == rootID })
}

// Messages returns every message of every channel, in posting order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sortedMessages(func(*Message) bool { return true })
}

// Message returns one message by id.
func (s *Server) Message(id string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.messages[id]
	if !ok {
		return Message{}, false
	}
	return m.clone(), true
}

// Cards returns the bot's card messages in a channel, in their current
// state.
func (s *Server) Cards(channelID string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sortedMessages(func(m *Message) bool { return m.ChannelID == channelID && m.FromBot && len(m.Card) > 0 })
}

// ChannelName returns a channel's name ("" if unknown).
func (s *Server) ChannelName(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.channels[id]; ok {
		return c.Name
	}
	return ""
}
