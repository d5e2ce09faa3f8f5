package slackfake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Interactivity: a person clicks a button on one of the bot's messages.
//
// Slack sends a block_actions interaction: over Socket Mode as an
// "interactive" envelope (acknowledged like events), or, when the app
// has a Request URL, as a signed POST of the form field `payload`. Unlike
// events, interactions are not retried: a click not acknowledged within
// 3 seconds shows the person an error and is lost.

// DeliverInteractionsHTTP sends interactions to url (the app's
// interactivity Request URL, signed like event deliveries) instead of
// over Socket Mode; "" switches back.
func (s *Server) DeliverInteractionsHTTP(url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.interactionsURL = url
}

// ErrNoSuchButton is returned by UserClicks for a message that shows no
// button with that action id and value.
var ErrNoSuchButton = errors.New("slackfake: the message has no such button")

// UserClicks has userID click the button actionID with value on the
// bot's message channelID/ts, and delivers the block_actions interaction.
// Over HTTP it returns once the Request URL answered (an error unless it
// answered 200 within the ack timeout); over Socket Mode once the
// envelope is queued (WaitIdle waits for its ack).
func (s *Server) UserClicks(channelID, ts, userID, actionID, value string) error {
	body, err := s.interactionBody(channelID, ts, userID, actionID, value)
	if err != nil {
		return err
	}
	s.mu.Lock()
	u := s.interactionsURL
	if u == "" && s.httpURL != "" {
		s.mu.Unlock()
		return errors.New("slackfake: events go over HTTP but interactivity has no Request URL (DeliverInteractionsHTTP)")
	}
	if u == "" {
		rec := &eventRec{id: "interaction", typ: "block_actions", channel: channelID, payload: body, interactive: true}
		s.outstanding++
		s.smQueue = append(s.smQueue, &job{ev: rec})
		s.wakeSocketsLocked()
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	form := []byte("payload=" + url.QueryEscape(string(body)))
	status, err := s.PostInteraction(s.ctx, u, form, true)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("slackfake: interaction answered HTTP %d", status)
	}
	return nil
}

// InteractionForm returns the form body Slack would POST to the Request
// URL for the click UserClicks describes, for tests that send it
// themselves (with a bad signature, say).
func (s *Server) InteractionForm(channelID, ts, userID, actionID, value string) ([]byte, error) {
	body, err := s.interactionBody(channelID, ts, userID, actionID, value)
	if err != nil {
		return nil, err
	}
	return []byte("payload=" + url.QueryEscape(string(body))), nil
}

// PostInteraction POSTs form to u as Slack does, signed unless sign is
// false, and returns the status.
func (s *Server) PostInteraction(ctx context.Context, u string, form []byte, sign bool) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ackTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(form))
	if err != nil {
		return 0, err
	}
	ts := strconv.FormatInt(s.cfg.clock.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", slackUserAgent)
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	sig := s.Sign(ts, form)
	if !sign {
		sig = "v0=" + strings.Repeat("0", 64)
	}
	req.Header.Set("X-Slack-Signature", sig)
	resp, err := s.httpc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("slackfake: interaction: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// interactionBody builds the block_actions payload of a click, checking
// that the message shows the button.
func (s *Server) interactionBody(channelID, ts, userID, actionID, value string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[channelID]
	if ch == nil {
		return nil, fmt.Errorf("slackfake: unknown channel %q", channelID)
	}
	m := s.messageLocked(ch.id, ts)
	if m == nil || m.deleted {
		return nil, fmt.Errorf("slackfake: no message %s in %s", ts, channelID)
	}
	blockID, text, ok := findButton(m.blocks, actionID, value)
	if !ok {
		return nil, ErrNoSuchButton
	}
	userName := userID
	if u := s.users[userID]; u != nil {
		userName = u.name
	}
	actionTS := s.nextTSLocked()
	msgObj := s.appendMessageObjectLocked(m.jsonBuffer(), m, true, nil)
	payload := map[string]any{
		"type":       "block_actions",
		"user":       map[string]any{"id": userID, "username": userName, "name": userName, "team_id": s.cfg.teamID},
		"api_app_id": s.cfg.appID,
		"token":      s.cfg.verificationToken,
		"container":  map[string]any{"type": "message", "message_ts": m.ts, "channel_id": ch.id, "is_ephemeral": false},
		"trigger_id": strings.ReplaceAll(newUUID(), "-", ""),
		"team":       map[string]any{"id": s.cfg.teamID, "domain": s.cfg.teamDomain},
		"enterprise": nil, "is_enterprise_install": false,
		"channel":      map[string]any{"id": ch.id, "name": ch.name},
		"message":      json.RawMessage(msgObj),
		"state":        map[string]any{"values": map[string]any{}},
		"response_url": s.srv.URL + "/actions/" + ch.id + "/" + m.ts,
		"actions": []map[string]any{{
			"action_id": actionID, "block_id": blockID, "value": value, "type": "button", "action_ts": actionTS,
			"text": map[string]any{"type": "plain_text", "text": text, "emoji": true},
		}},
	}
	return marshal(payload)
}

// findButton looks for a button (a section's accessory or an actions
// block's element) with actionID and value in blocks.
func findButton(blocks json.RawMessage, actionID, value string) (blockID, text string, ok bool) {
	type button struct {
		Type     string `json:"type"`
		ActionID string `json:"action_id"`
		Value    string `json:"value"`
		Text     struct {
			Text string `json:"text"`
		} `json:"text"`
	}
	var bs []struct {
		BlockID   string   `json:"block_id"`
		Accessory *button  `json:"accessory"`
		Elements  []button `json:"elements"`
	}
	if json.Unmarshal(blocks, &bs) != nil {
		return "", "", false
	}
	for _, b := range bs {
		cands := b.Elements
		if b.Accessory != nil {
			cands = append(cands, *b.Accessory)
		}
		for _, c := range cands {
			if c.Type == "button" && c.ActionID == actionID && c.Value == value {
				return b.BlockID, c.Text.Text, true
			}
		}
	}
	return "", "", false
}
