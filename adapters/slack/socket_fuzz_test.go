package slack

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/carebridge/carebridge/bridge"
)

// fullPathDelivers reports whether decodeEvents and Convert turn a payload
// into a chat event that is not a bot's.
func fullPathDelivers(payload []byte) bool {
	d, err := decodeEvents(payload)
	if err != nil || d.env.Type != slackevents.CallbackEvent || !d.handled {
		return false
	}
	id, at := callbackMeta(d.api)
	ev, ok := Convert(d.api, id, at)
	return ok && !ev.Bot
}

// FuzzSocketFrame feeds the receiver arbitrary Socket Mode frames as
// slack-go's socketmode client hands them on (smEvent: parsed, or raw when
// slack-go could not parse them): it never panics, acks at most once and
// only the frame's own envelope, hands on at most one complete event
// (then acks), and hands on an event exactly when decodeEvents and
// Convert deliver one from the payload.
func FuzzSocketFrame(f *testing.F) {
	wrap := func(payload []byte) []byte {
		b, _ := json.Marshal(map[string]any{"type": "events_api", "envelope_id": "env-1", "payload": json.RawMessage(payload),
			"accepts_response_payload": false, "retry_attempt": 0, "retry_reason": ""})
		return b
	}
	_ = filepath.WalkDir(slackFixtureDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") || strings.Contains(path, "slack-api-specs") {
			return nil
		}
		if b, err := os.ReadFile(path); err == nil && len(b) < 64<<10 && json.Valid(b) {
			f.Add(wrap(b))
		}
		return nil
	})
	for _, inner := range []string{
		`{"type":"message","channel":"C1","user":"U2","text":"hi","ts":"1.000100"}`,
		`{"type":"message","channel":"C1","user":"UBOT","bot_id":"B1","text":"mirror","ts":"1.000100","blocks":[{"type":"rich_text","elements":[]}]}`,
		`{"type":"message","channel":"C1","user":"U2","text":"hi","ts":"1.000100","blocks":[{"type":"rich_text","elements":"oops"}]}`,
		`{"type":"message","subtype":"message_changed","channel":"C1","message":{"bot_id":"B1","text":"new","ts":"1.0"},"previous_message":{"text":"old"}}`,
		`{"type":"message","subtype":"message_deleted","channel":"C1","deleted_ts":"1.0","previous_message":{"bot_id":"B1"}}`,
		`{"type":"message","subtype":"bot_message","channel":"C1","text":"x","ts":"1.0"}`,
		`{"type":"reaction_added","user":"U5","reaction":"+1","item":{"type":"message","channel":"C1","ts":"1.0"}}`,
		`{"type":"brand_new_event_type"}`,
	} {
		f.Add(wrap(envelopeJSON(inner)))
	}
	f.Add([]byte(`{"type":"hello","num_connections":1,"debug_info":{"host":"h"},"connection_info":{"app_id":"A1"}}`))
	f.Add([]byte(`{"type":"disconnect","reason":"refresh_requested"}`))
	f.Add([]byte(`{"type":"interactive","envelope_id":"env-1","payload":{}}`))
	f.Add([]byte(`{"type":"slash_commands","envelope_id":"env-1","payload":[]}`))
	f.Add([]byte(`{"type":"events_api","envelope_id":"env-1","payload":null,"retry_attempt":"1"}`))
	f.Add([]byte(`{"type":"events_api","envelope_id":"env-1","payload":{"type":"event_callback","event_id":"E","event":{"type":"message","bot_id":"B"},"event":{"type":"message","channel":"C","ts":"1.0","user":"U"}}}`))
	f.Add([]byte(`[]`))

	s := NewSocketMode(slack.New("xoxb-test"), nil, nil)
	f.Fuzz(func(t *testing.T, frame []byte) {
		var handed []bridge.ChatEvent
		s.h = chatHandlerFunc(func(_ context.Context, ev bridge.ChatEvent) error {
			handed = append(handed, ev)
			if ev.Kind == "" || ev.ID == "" || ev.Channel == "" || ev.Bot {
				t.Errorf("handler got %+v", ev)
			}
			return nil
		})
		ev, disconnect := smEvent(frame)
		if disconnect {
			return // slack-go reconnects; the receiver never sees it
		}
		acks := &recordedAcks{}
		conns := 0
		if err := s.dispatch(t.Context(), acks, ev, &conns); err != nil {
			t.Errorf("dispatch: %v", err)
		}
		var fr struct {
			Type       string          `json:"type"`
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		decodable := json.Unmarshal(frame, &fr) == nil
		if len(acks.ids) > 1 || (len(acks.ids) == 1 && acks.ids[0] != fr.EnvelopeID) {
			t.Errorf("acks %q for envelope %q", acks.ids, fr.EnvelopeID)
		}
		if len(handed) > 1 || (len(handed) == 1 && len(acks.ids) != 1 && fr.EnvelopeID != "") {
			t.Errorf("handed %+v, acks %q", handed, acks.ids)
		}
		if !decodable || fr.Type != "events_api" {
			return
		}
		if len(handed) == 1 != fullPathDelivers(fr.Payload) {
			t.Errorf("handed %+v, full path delivers %v", handed, fullPathDelivers(fr.Payload))
		}
	})
}
