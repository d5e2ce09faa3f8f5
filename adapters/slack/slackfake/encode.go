package slackfake

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// The payloads of every chat.postMessage (its answer, the message event
// and the Socket Mode envelope that carries it) are written by the
// functions below rather than by encoding maps with marshal, which costs
// more CPU than the rest of the fake's work on a post. They write exactly
// the bytes marshal would write for the equivalent maps: keys sorted, &, <
// and > literal, raw JSON compacted (encode_test.go checks them against
// the maps).

// eventFields are the fields a message event adds to the message object.
type eventFields struct {
	channel, channelType, eventTS string
}

// appendMessageObjectLocked appends m as Slack's message object (as in
// API answers and message events), with its metadata if withMeta, and
// ev's fields if ev is not nil.
func (s *Server) appendMessageObjectLocked(b []byte, m *message, withMeta bool, ev *eventFields) []byte {
	b = append(b, '{')
	bot := m.botID != ""
	if bot {
		b = appendStringField(b, "app_id", s.cfg.appID)
	}
	switch {
	case m.blocks != nil:
		b = appendRawField(b, "blocks", m.blocks)
	case m.text != "":
		b = appendRawField(b, "blocks", richTextBlocks(m.text, m.blockID))
	}
	if bot {
		b = appendStringField(b, "bot_id", m.botID)
		b = appendRawField(b, "bot_profile", s.botProfileJSONLocked())
	}
	if ev != nil {
		b = appendStringField(b, "channel", ev.channel)
		b = appendStringField(b, "channel_type", ev.channelType)
	}
	if !bot {
		b = appendStringField(b, "client_msg_id", m.clientMsgID)
	}
	if m.editedTS != "" {
		b = appendKey(b, "edited")
		b = append(b, '{')
		b = appendStringField(b, "ts", m.editedTS)
		b = appendStringField(b, "user", m.editedBy)
		b = append(b, '}')
	}
	if ev != nil {
		b = appendStringField(b, "event_ts", ev.eventTS)
	}
	if m.metadata != nil && withMeta {
		b = appendRawField(b, "metadata", m.metadata)
	}
	if m.threadTS != "" && m.parentUser != "" {
		b = appendStringField(b, "parent_user_id", m.parentUser)
	}
	b = appendStringField(b, "team", s.cfg.teamID)
	b = appendStringField(b, "text", m.text)
	if m.threadTS != "" {
		b = appendStringField(b, "thread_ts", m.threadTS)
	}
	b = appendStringField(b, "ts", m.ts)
	b = appendStringField(b, "type", "message")
	b = appendStringField(b, "user", m.user)
	return append(b, '}')
}

// jsonBuffer is an empty buffer large enough for most renderings of m.
func (m *message) jsonBuffer() []byte {
	return make([]byte, 0, len(m.blocks)+len(m.metadata)+len(m.text)+1200)
}

// botProfileJSONLocked is the bot_profile of the bot's messages, encoded
// once.
func (s *Server) botProfileJSONLocked() []byte {
	if s.botProfileJSON == nil {
		b, err := marshal(s.botProfile())
		if err != nil {
			panic("slackfake: cannot encode the bot profile: " + err.Error())
		}
		s.botProfileJSON = b
	}
	return s.botProfileJSON
}

// appendEventCallback appends the Events API envelope of an inner event
// (JSON as marshal writes it; inner is compact JSON).
func (s *Server) appendEventCallback(b []byte, typ, channelID, eventID string, inner []byte) []byte {
	c := s.cfg
	ctxJSON := fmt.Sprintf(`{"et":%q,"tid":%q,"aid":%q,"cid":%q}`, typ, c.teamID, c.appID, channelID)
	b = append(b, '{')
	b = appendStringField(b, "api_app_id", c.appID)
	b = appendKey(b, "authorizations")
	b = append(b, `[{"enterprise_id":null,"is_bot":true,"is_enterprise_install":false`...)
	b = appendStringField(b, "team_id", c.teamID)
	b = appendStringField(b, "user_id", c.botUserID)
	b = append(b, "}]"...)
	b = append(b, `,"context_enterprise_id":null`...)
	b = appendStringField(b, "context_team_id", c.teamID)
	b = append(appendKey(b, "event"), inner...) // written by marshal or appendMessageObjectLocked: compact
	b = appendStringField(b, "event_context", "4-"+base64.RawURLEncoding.EncodeToString([]byte(ctxJSON)))
	b = appendStringField(b, "event_id", eventID)
	b = appendKey(b, "event_time")
	b = strconv.AppendInt(b, c.clock.Now().Unix(), 10)
	b = append(b, `,"is_ext_shared_channel":false`...)
	b = appendStringField(b, "team_id", c.teamID)
	b = appendStringField(b, "token", c.verificationToken)
	b = appendStringField(b, "type", "event_callback")
	return append(b, '}')
}

// appendSocketEnvelope appends the Socket Mode envelope of one delivery of
// an event (JSON as marshal writes it; payload is compact JSON).
func appendSocketEnvelope(b []byte, envelopeID string, payload []byte, retryAttempt int, retryReason string) []byte {
	b = append(b, `{"accepts_response_payload":false`...)
	b = appendStringField(b, "envelope_id", envelopeID)
	b = append(appendKey(b, "payload"), payload...) // written by appendEventCallback: compact
	b = appendKey(b, "retry_attempt")
	b = strconv.AppendInt(b, int64(retryAttempt), 10)
	b = appendStringField(b, "retry_reason", retryReason)
	b = appendStringField(b, "type", "events_api")
	return append(b, '}')
}

// appendKey appends `"key":`, after a comma unless it opens the object.
// Keys are plain ASCII.
func appendKey(b []byte, key string) []byte {
	if len(b) > 0 && b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, key...)
	return append(b, '"', ':')
}

func appendStringField(b []byte, key, value string) []byte {
	return appendString(appendKey(b, key), value)
}

func appendRawField(b []byte, key string, raw []byte) []byte {
	return appendRaw(appendKey(b, key), raw)
}

// appendRaw appends valid JSON compacted, as marshal writes a
// json.RawMessage: most of it already is (it was written by encoding/json
// or by the functions above), and is copied as is.
func appendRaw(b []byte, raw []byte) []byte {
	if raw == nil {
		return append(b, "null"...)
	}
	if isCompact(raw) {
		return append(b, raw...)
	}
	buf := bytes.NewBuffer(b)
	if err := json.Compact(buf, raw); err != nil {
		panic("slackfake: invalid JSON stored: " + err.Error())
	}
	return buf.Bytes()
}

// isCompact reports whether valid JSON has no space outside its strings.
func isCompact(raw []byte) bool {
	inString, escaped := false, false
	for _, c := range raw {
		switch {
		case escaped:
			escaped = false
		case inString:
			switch c {
			case '\\':
				escaped = true
			case '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == ' ', c == '\t', c == '\n', c == '\r':
			return false
		}
	}
	return true
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string escaped as marshal escapes it
// (encoding/json without HTML escaping): quotes, backslashes and control
// characters escaped, invalid UTF-8 replaced by U+FFFD, U+2028 and U+2029
// escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
