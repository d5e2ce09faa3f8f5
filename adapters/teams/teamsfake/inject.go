package teamsfake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"strings"
	"time"
)

// DeliveryOptions change how the injector signs a delivery, for tests of
// the bot's token validation. The zero value signs as the Bot Connector
// does.
type DeliveryOptions struct {
	NoToken    bool          // no Authorization header
	Audience   string        // aud claim ("" : the bot's app id)
	ServiceURL string        // serviceurl claim ("" : the activity's serviceUrl)
	Issuer     string        // iss claim ("" : Bot Framework's, or the tenant's Entra v2 issuer with Entra)
	IssuedAt   time.Duration // shifts the token's nbf, iat and exp (-2*time.Hour: long expired)
	KID        string        // sign with this listed key (RotateKeys, AddKey)
	UnknownKey bool          // sign with a key the JWKS does not list
	Alg        string        // "none" (unsigned) or "HS256" (HMAC keyed with the public key)
	Entra      bool          // an Entra ID v2 token of the tenant instead of a Bot Framework one
}

// Delivery is one activity posted to the bot, and its answer.
type Delivery struct {
	ActivityID string
	Type       string
	Status     int    // the bot's HTTP status; 0 when not delivered
	Body       string // the bot's answer (an invoke response)
	Skipped    bool   // not delivered: Teams would not tell the bot (see WithRSC, UserReacts)
	activity   []byte
}

// ErrRefused is returned (wrapped) when the bot answered a delivery with
// a status other than 2xx.
var ErrRefused = errors.New("teamsfake: the bot refused the activity")

// Deliveries returns every delivery made so far, in order.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.deliveries...)
}

// Deliver signs raw (an activity's JSON) as o says and posts it to the
// bot's endpoint. The error is only for a delivery that could not be
// made; the bot's status is in the Delivery.
func (s *Server) Deliver(ctx context.Context, raw []byte, o DeliveryOptions) (Delivery, error) {
	var head struct {
		ID, Type, ServiceURL string
	}
	_ = json.Unmarshal(raw, &head)
	d := Delivery{ActivityID: head.ID, Type: head.Type, activity: raw}
	s.mu.Lock()
	endpoint := s.endpoint
	s.mu.Unlock()
	if endpoint == "" {
		return d, errors.New("teamsfake: no bot endpoint (SetEndpoint)")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(raw))
	if err != nil {
		return d, err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "Microsoft-SkypeBotApi (Microsoft-BotFramework/3.0)")
	if !o.NoToken {
		tok, err := s.signToken(head.ServiceURL, o)
		if err != nil {
			return d, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return d, fmt.Errorf("teamsfake: deliver %s: %w", head.Type, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	d.Status, d.Body = resp.StatusCode, string(body)
	s.mu.Lock()
	s.deliveries = append(s.deliveries, d)
	s.mu.Unlock()
	return d, nil
}

// deliver posts a built activity as the Bot Connector does and turns a
// refusal into an error.
func (s *Server) deliver(ctx context.Context, act map[string]any) (Delivery, error) {
	raw, err := json.Marshal(act)
	if err != nil {
		return Delivery{}, err
	}
	d, err := s.Deliver(ctx, raw, DeliveryOptions{})
	if err != nil {
		return d, err
	}
	if d.Status < 200 || d.Status > 299 {
		return d, fmt.Errorf("%w: %s %s answered %d: %s", ErrRefused, d.Type, d.ActivityID, d.Status, strings.TrimSpace(d.Body))
	}
	return d, nil
}

// Redeliver posts the same activity again (same id), freshly signed: what
// a connector retry looks like.
func (s *Server) Redeliver(ctx context.Context, d Delivery) (Delivery, error) {
	if d.activity == nil {
		return d, errors.New("teamsfake: nothing to redeliver")
	}
	var act map[string]any
	if err := json.Unmarshal(d.activity, &act); err != nil {
		return d, err
	}
	return s.deliver(ctx, act)
}

// base is the envelope of an activity in a channel thread.
func (s *Server) base(typ, id string, u User, channel, root string) map[string]any {
	now := s.clock.Now().UTC()
	conv := channel
	if root != "" {
		conv += ";messageid=" + root
	}
	return map[string]any{
		"type": typ, "id": id,
		"timestamp": now.Format("2006-01-02T15:04:05.000Z"), "localTimestamp": now.Format("2006-01-02T15:04:05.000Z07:00"),
		"serviceUrl": s.ServiceURL(), "channelId": "msteams",
		"from":         map[string]any{"id": u.ID, "name": u.Name, "aadObjectId": u.AADObjectID},
		"conversation": map[string]any{"isGroup": true, "conversationType": "channel", "tenantId": s.tenantID, "id": conv},
		"recipient":    map[string]any{"id": "28:" + s.appID, "name": s.botName},
		"entities":     []any{map[string]any{"type": "clientInfo", "locale": "en-US", "country": "US", "platform": "Web", "timezone": "Europe/London"}},
		"channelData": map[string]any{
			"teamsChannelId": channel, "teamsTeamId": s.teamID,
			"channel": map[string]any{"id": channel}, "team": map[string]any{"id": s.teamID},
			"tenant": map[string]any{"id": s.tenantID},
		},
		"locale": "en-US",
	}
}

// wireText is a typed message as Teams sends it: HTML, with the bot's
// mention first when there is one.
func (s *Server) wireText(text string, mentionBot bool) (string, []any) {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = html.EscapeString(l)
	}
	body := lines[0]
	if len(lines) > 1 {
		body = "<p>" + strings.Join(lines, "</p><p>") + "</p>"
	}
	if !mentionBot {
		return body, nil
	}
	at := "<at>" + html.EscapeString(s.botName) + "</at>"
	ent := map[string]any{"type": "mention", "text": at, "mentioned": map[string]any{"id": "28:" + s.appID, "name": s.botName}}
	return at + "&nbsp;" + body, []any{ent}
}

// say records a person's message and delivers it if Teams would.
func (s *Server) say(ctx context.Context, u User, channel, root, text string, mentionBot bool) (Delivery, error) {
	s.mu.Lock()
	if _, ok := s.channels[channel]; !ok {
		s.mu.Unlock()
		return Delivery{}, fmt.Errorf("teamsfake: no channel %s", channel)
	}
	if root != "" {
		if m, ok := s.messages[root]; !ok || m.ChannelID != channel || !m.IsRoot() {
			s.mu.Unlock()
			return Delivery{}, fmt.Errorf("teamsfake: no thread %s in %s", root, channel)
		}
	}
	id := s.newMessageID()
	thread := root
	if thread == "" {
		thread = id
	}
	s.seq++
	wire, ents := s.wireText(text, mentionBot)
	m := &Message{ID: id, ChannelID: channel, RootID: thread, From: u, Text: wire, TextFormat: "plain",
		Created: s.clock.Now(), Reactions: map[string][]string{}, seq: int(s.seq)}
	if mentionBot {
		m.Entities = []Mention{{ID: "28:" + s.appID, Name: s.botName, Text: "<at>" + html.EscapeString(s.botName) + "</at>"}}
	}
	s.messages[id] = m
	s.order = append(s.order, id)
	rsc := s.rsc
	s.mu.Unlock()
	if !rsc && !mentionBot {
		return Delivery{ActivityID: id, Type: "message", Skipped: true}, nil
	}
	act := s.base("message", id, u, channel, thread)
	act["text"], act["textFormat"] = wire, "plain"
	act["entities"] = append(act["entities"].([]any), ents...)
	return s.deliver(ctx, act)
}

// UserPosts has u start a new thread in a channel with text (mentioning
// the bot first if mentionBot). It returns the delivery (Skipped when the
// bot would not be told: no RSC and no mention); the message id is its
// ActivityID.
func (s *Server) UserPosts(ctx context.Context, u User, channel, text string, mentionBot bool) (Delivery, error) {
	return s.say(ctx, u, channel, "", text, mentionBot)
}

// UserReplies has u reply in the thread root of a channel.
func (s *Server) UserReplies(ctx context.Context, u User, channel, root, text string, mentionBot bool) (Delivery, error) {
	return s.say(ctx, u, channel, root, text, mentionBot)
}

// ownMessage finds u's message id. Callers hold s.mu.
func (s *Server) ownMessage(u User, id string) (*Message, error) {
	m, ok := s.messages[id]
	if !ok || m.Deleted {
		return nil, fmt.Errorf("teamsfake: no message %s", id)
	}
	if m.FromBot || m.From.ID != u.ID {
		return nil, fmt.Errorf("teamsfake: message %s is not %s's", id, u.Name)
	}
	return m, nil
}

// UserEdits has u edit their message id: a messageUpdate activity with
// channelData.eventType editMessage, whose id is the edited message's.
func (s *Server) UserEdits(ctx context.Context, u User, id, text string) (Delivery, error) {
	s.mu.Lock()
	m, err := s.ownMessage(u, id)
	if err != nil {
		s.mu.Unlock()
		return Delivery{}, err
	}
	mentionBot := len(m.Entities) > 0
	wire, ents := s.wireText(text, mentionBot)
	m.Text = wire
	channel, root, rsc := m.ChannelID, m.RootID, s.rsc
	s.mu.Unlock()
	if !rsc && !mentionBot {
		return Delivery{ActivityID: id, Type: "messageUpdate", Skipped: true}, nil
	}
	act := s.base("messageUpdate", id, u, channel, root)
	act["text"], act["textFormat"] = wire, "plain"
	act["entities"] = append(act["entities"].([]any), ents...)
	act["channelData"].(map[string]any)["eventType"] = "editMessage"
	return s.deliver(ctx, act)
}

// UserDeletes has u delete their message id: a messageDelete activity
// with channelData.eventType softDeleteMessage.
func (s *Server) UserDeletes(ctx context.Context, u User, id string) (Delivery, error) {
	s.mu.Lock()
	m, err := s.ownMessage(u, id)
	if err != nil {
		s.mu.Unlock()
		return Delivery{}, err
	}
	m.Deleted = true
	channel, root, rsc, mentioned := m.ChannelID, m.RootID, s.rsc, len(m.Entities) > 0
	s.mu.Unlock()
	if !rsc && !mentioned {
		return Delivery{ActivityID: id, Type: "messageDelete", Skipped: true}, nil
	}
	act := s.base("messageDelete", id, u, channel, root)
	act["channelData"].(map[string]any)["eventType"] = "softDeleteMessage"
	return s.deliver(ctx, act)
}

// UserReacts has u add a reaction ("like", "heart", "laugh", "surprised",
// "sad", "angry") to message id. Teams tells the bot only about
// reactions to the bot's own messages: on anyone else's the reaction is
// recorded and the delivery Skipped.
func (s *Server) UserReacts(ctx context.Context, u User, id, reaction string) (Delivery, error) {
	return s.react(ctx, u, id, reaction, true)
}

// UserUnreacts has u remove a reaction from message id.
func (s *Server) UserUnreacts(ctx context.Context, u User, id, reaction string) (Delivery, error) {
	return s.react(ctx, u, id, reaction, false)
}

func (s *Server) react(ctx context.Context, u User, id, reaction string, add bool) (Delivery, error) {
	s.mu.Lock()
	m, ok := s.messages[id]
	if !ok || m.Deleted {
		s.mu.Unlock()
		return Delivery{}, fmt.Errorf("teamsfake: no message %s", id)
	}
	users := m.Reactions[reaction]
	var kept []string
	for _, x := range users {
		if x != u.ID {
			kept = append(kept, x)
		}
	}
	if add {
		kept = append(kept, u.ID)
	}
	m.Reactions[reaction] = kept
	channel, root, fromBot := m.ChannelID, m.RootID, m.FromBot
	actID := s.newMessageID()
	s.mu.Unlock()
	if !fromBot {
		return Delivery{ActivityID: actID, Type: "messageReaction", Skipped: true}, nil
	}
	act := s.base("messageReaction", actID, u, channel, root)
	act["replyToId"] = id
	key := "reactionsRemoved"
	if add {
		key = "reactionsAdded"
	}
	act[key] = []any{map[string]any{"type": reaction}}
	return s.deliver(ctx, act)
}

// UserClicks has u press the button titled title on the bot's card id.
// An Action.Submit button arrives as a message activity whose value is the
// button's data and whose replyToId is the card; an Action.Execute button
// as an invoke "adaptiveCard/action" (the bot's invoke response is in the
// Delivery's Body). A button the card does not show (any more) is an
// error: the person cannot press it.
func (s *Server) UserClicks(ctx context.Context, u User, id, title string) (Delivery, error) {
	return s.UserClicksNth(ctx, u, id, title, 0)
}

// UserClicksNth is UserClicks on the nth (from 0) button titled title,
// in the order Message.Buttons lists them: a bundle card has an Answer
// button per post.
func (s *Server) UserClicksNth(ctx context.Context, u User, id, title string, nth int) (Delivery, error) {
	s.mu.Lock()
	m, ok := s.messages[id]
	if !ok || m.Deleted || !m.FromBot || len(m.Card) == 0 {
		s.mu.Unlock()
		return Delivery{}, fmt.Errorf("teamsfake: no card %s", id)
	}
	var action *cardAction
	for _, a := range cardActions(m.Card) {
		if a.Title == title && (a.Type == "Action.Submit" || a.Type == "Action.Execute") {
			if nth > 0 {
				nth--
				continue
			}
			action = &a
			break
		}
	}
	channel, root := m.ChannelID, m.RootID
	actID := s.newMessageID()
	s.mu.Unlock()
	if action == nil {
		return Delivery{}, fmt.Errorf("teamsfake: card %s has no button %q", id, title)
	}
	data := action.Data
	if len(data) == 0 {
		data = json.RawMessage("{}")
	}
	if action.Type == "Action.Execute" {
		act := s.base("invoke", actID, u, channel, root)
		act["name"] = "adaptiveCard/action"
		act["replyToId"] = id
		act["value"] = map[string]any{"action": map[string]any{"type": "Action.Execute", "verb": action.Verb, "data": data}, "trigger": "manual"}
		return s.deliver(ctx, act)
	}
	act := s.base("message", actID, u, channel, root)
	act["replyToId"] = id
	act["value"] = data
	return s.deliver(ctx, act)
}

// InstallApp delivers the installationUpdate (action "add") Teams sends
// when u adds the app to the team.
func (s *Server) InstallApp(ctx context.Context, u User) (Delivery, error) {
	s.mu.Lock()
	s.installed = true
	id := "f:" + randomHex(8)
	s.mu.Unlock()
	act := s.base("installationUpdate", id, u, s.teamID, "")
	act["action"] = "add"
	cd := act["channelData"].(map[string]any)
	cd["team"] = map[string]any{"id": s.teamID, "name": "Customer Care", "aadGroupId": s.groupID}
	cd["settings"] = map[string]any{"selectedChannel": map[string]any{"id": s.teamID}}
	return s.deliver(ctx, act)
}
