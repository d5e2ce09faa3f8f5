package slackfake

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The payloads written by encode.go must be byte for byte those the fake
// wrote by encoding maps with marshal; the legacy* functions below are
// that encoding, kept as the reference.

func legacyMessageObject(s *Server, m *message, withMeta bool) map[string]any {
	o := map[string]any{
		"type": "message", "ts": m.ts, "text": m.text, "team": s.cfg.teamID, "user": m.user,
	}
	if m.botID != "" {
		o["bot_id"], o["app_id"], o["bot_profile"] = m.botID, s.cfg.appID, s.botProfile()
	} else {
		o["client_msg_id"] = m.clientMsgID
	}
	switch {
	case m.blocks != nil:
		o["blocks"] = m.blocks
	case m.text != "":
		o["blocks"] = richTextBlocks(m.text, m.blockID)
	}
	if m.threadTS != "" {
		o["thread_ts"] = m.threadTS
		if m.parentUser != "" {
			o["parent_user_id"] = m.parentUser
		}
	}
	if m.metadata != nil && withMeta {
		o["metadata"] = m.metadata
	}
	if m.editedTS != "" {
		o["edited"] = map[string]any{"user": m.editedBy, "ts": m.editedTS}
	}
	return o
}

func legacyEventCallback(s *Server, typ, channelID, id string, inner any) map[string]any {
	c := s.cfg
	ctxJSON := fmt.Sprintf(`{"et":%q,"tid":%q,"aid":%q,"cid":%q}`, typ, c.teamID, c.appID, channelID)
	return map[string]any{
		"token":                 c.verificationToken,
		"team_id":               c.teamID,
		"context_team_id":       c.teamID,
		"context_enterprise_id": nil,
		"api_app_id":            c.appID,
		"event":                 inner,
		"type":                  "event_callback",
		"event_id":              id,
		"event_time":            c.clock.Now().Unix(),
		"authorizations": []map[string]any{{
			"enterprise_id": nil, "team_id": c.teamID, "user_id": c.botUserID,
			"is_bot": true, "is_enterprise_install": false,
		}},
		"is_ext_shared_channel": false,
		"event_context":         "4-" + base64.RawURLEncoding.EncodeToString([]byte(ctxJSON)),
	}
}

func legacyValidBlocks(raw string) (json.RawMessage, bool) {
	var arr []json.RawMessage
	if err := json.Unmarshal([]byte(raw), &arr); err != nil || len(arr) > maxBlocks {
		return nil, false
	}
	for _, b := range arr {
		var obj struct {
			Type *string `json:"type"`
			Text *struct {
				Text string `json:"text"`
			} `json:"text"`
		}
		if json.Unmarshal(b, &obj) != nil || obj.Type == nil {
			return nil, false
		}
		if *obj.Type == "section" && obj.Text != nil && utf8.RuneCountInString(obj.Text.Text) > maxSectionText {
			return nil, false
		}
	}
	return json.RawMessage(raw), true
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// trickyTexts are strings whose JSON encoding has every special case.
var trickyTexts = []string{
	"", "plain", "a & <b> &amp; &lt;", `quote " and \ backslash`, "tab\tnl\ncr\rbs\bff\f",
	"nul\x00 esc\x1b unit\x1f del\x7f", "電波 👨\u200D👩 \u202Einvoice", "bad utf8 \xff\xfe and cut \xe9",
	"line\u2028para\u2029", strings.Repeat("<&> 전파 ", 400),
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range trickyTexts {
		if got, want := appendString(nil, s), mustMarshal(t, s); !bytes.Equal(got, want) {
			t.Errorf("%q:\n got %s\nwant %s", s, got, want)
		}
	}
}

func TestPayloadsMatchMapEncoding(t *testing.T) {
	s := New(WithClock(fixedClock{time.Unix(1_763_000_000, 0)}), WithTeam("T0TEAM\"x", "team<&>"), WithAppID("A0\u2028APP"))
	t.Cleanup(s.Close)
	postedBlocks := `[{"type":"section","text":{"type":"mrkdwn","text":"*Kim* \u003c!here\u003e &lt;b&gt;"}},` +
		`{"type":"context","elements":[{"type":"mrkdwn","text":"電波"}]}]`
	spaced := "[ {\"type\": \"section\",\n \"text\": {\"type\": \"mrkdwn\", \"text\": \"a  b \\\" c\"} } ]"
	meta := `{"event_type":"carebridge_outbox","event_payload":{"outbox_id":"41"}}`
	var msgs []*message
	for i, text := range trickyTexts {
		bot := &message{channel: "C0NETWORK", ts: fmt.Sprintf("1763000000.%06d", i), user: "UBOT", botID: "B0FAKEBOT", text: text,
			blocks: json.RawMessage(postedBlocks), metadata: json.RawMessage(meta), blockID: "abcde"}
		human := &message{channel: "C0NETWORK", ts: fmt.Sprintf("1763000001.%06d", i), user: "U1", text: text, clientMsgID: "id-" + text, blockID: "xyz12"}
		msgs = append(msgs, bot, human)
	}
	msgs = append(msgs,
		&message{channel: "C0NETWORK", ts: "1.000001", threadTS: "1.000000", parentUser: "U1", user: "UBOT", botID: "B0FAKEBOT", text: "reply", blocks: json.RawMessage(spaced)},
		&message{channel: "G0PRIVATE", ts: "1.000002", threadTS: "1.000000", user: "U2", text: "no parent user", blockID: "b"},
		&message{channel: "D0DM", ts: "1.000003", user: "U2", text: "edited", editedBy: "U2", editedTS: "1.000009", metadata: json.RawMessage(" { \"event_type\" : \"x\" } ")},
		&message{channel: "C0NETWORK", ts: "1.000004", user: "UBOT", botID: "B0FAKEBOT", blocks: json.RawMessage(`[]`), metadata: json.RawMessage(meta)},
		&message{channel: "C0NETWORK", ts: "1.000005", user: "UBOT", botID: "B0FAKEBOT", blocks: json.RawMessage(`null`)},
	)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range msgs {
		for _, withMeta := range []bool{true, false} {
			want := mustMarshal(t, legacyMessageObject(s, m, withMeta))
			if got := s.appendMessageObjectLocked(nil, m, withMeta, nil); !bytes.Equal(got, want) {
				t.Errorf("message object %s (meta %v):\n got %s\nwant %s", m.ts, withMeta, got, want)
			}
		}
		ev := legacyMessageObject(s, m, true)
		ev["channel"], ev["event_ts"], ev["channel_type"] = m.channel, m.ts, s.channelType(m.channel)
		want := mustMarshal(t, ev)
		got := s.newMessageEventLocked(m)
		if !bytes.Equal(got, want) {
			t.Errorf("message event %s:\n got %s\nwant %s", m.ts, got, want)
		}
		want = mustMarshal(t, legacyEventCallback(s, "message", m.channel, "Ev0001", ev))
		payload := s.appendEventCallback(nil, "message", m.channel, "Ev0001", got)
		if !bytes.Equal(payload, want) {
			t.Errorf("event callback %s:\n got %s\nwant %s", m.ts, payload, want)
		}
		for _, retry := range []struct {
			attempt int
			reason  string
		}{{0, ""}, {2, "timeout"}} {
			want := mustMarshal(t, map[string]any{
				"envelope_id": "env-\"1", "payload": json.RawMessage(payload), "type": "events_api",
				"accepts_response_payload": false, "retry_attempt": retry.attempt, "retry_reason": retry.reason,
			})
			if got := appendSocketEnvelope(nil, "env-\"1", payload, retry.attempt, retry.reason); !bytes.Equal(got, want) {
				t.Errorf("socket envelope:\n got %s\nwant %s", got, want)
			}
		}
		if m.botID != "" {
			s.mu.Unlock()
			got, posted := postAnswer(t, s, m)
			s.mu.Lock()
			if posted == nil {
				continue
			}
			want := mustMarshal(t, map[string]any{"channel": posted.channel, "ts": posted.ts, "message": legacyMessageObject(s, posted, true), "ok": true})
			if !bytes.Equal(got, want) {
				t.Errorf("chat.postMessage answer %s:\n got %s\nwant %s", m.ts, got, want)
			}
		}
	}
}

// postAnswer posts a message like m with chat.postMessage and returns the
// answer and the message posted (nil if refused).
func postAnswer(t *testing.T, s *Server, m *message) ([]byte, *message) {
	t.Helper()
	s.AddChannel(m.channel, "c-"+m.channel)
	s.mu.Lock()
	s.cfg.enforceRate = false
	s.mu.Unlock()
	p := params{"channel": m.channel, "text": m.text}
	if m.threadTS != "" {
		p["thread_ts"] = m.threadTS
	}
	if m.blocks != nil {
		p["blocks"] = string(m.blocks)
	}
	if m.metadata != nil {
		p["metadata"] = string(m.metadata)
	}
	res := s.chatPostMessage(p)
	if res.json == nil {
		if res.body["ok"] != false {
			t.Fatalf("chat.postMessage answered %+v", res)
		}
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return res.json, s.msgs[m.channel][len(s.msgs[m.channel])-1]
}

func TestValidBlocksMatchesTwoPassDecoding(t *testing.T) {
	long := strings.Repeat("é", maxSectionText)
	var fifty, fiftyOne []string
	for i := range maxBlocks + 1 {
		if i < maxBlocks {
			fifty = append(fifty, `{"type":"divider"}`)
		}
		fiftyOne = append(fiftyOne, `{"type":"divider"}`)
	}
	for _, raw := range []string{
		`[]`, `null`, `{}`, `"x"`, `[1]`, `[null]`, `[{}]`, `[{"type":null}]`, `[{"type":1}]`, `[{"type":"divider"}]`,
		`[{"TYPE":"divider"}]`, `[{"type":"section","text":"plain"}]`, `[{"type":"section","text":{"text":5}}]`,
		`[{"type":"section","text":null}]`, `[{"type":"section","text":{"type":"mrkdwn","text":"` + long + `"}}]`,
		`[{"type":"section","text":{"type":"mrkdwn","text":"` + long + `x"}}]`,
		`[{"type":"header","text":{"type":"plain_text","text":"` + long + `x"}}]`,
		`[{"type":"divider"},{"type":"divider"}`, `[{"type":"divider"}] x`, `[{"type":"x","type":null}]`,
		"[" + strings.Join(fifty, ",") + "]", "[" + strings.Join(fiftyOne, ",") + "]",
	} {
		got, gotOK := validBlocks(raw)
		want, wantOK := legacyValidBlocks(raw)
		if gotOK != wantOK || !bytes.Equal(got, want) {
			t.Errorf("validBlocks(%.60q) = %v, the two-pass decoding says %v", raw, gotOK, wantOK)
		}
	}
}

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }
