package slackfake

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// conversationsList lists public and private channels (no paging beyond
// the first page: the fake has few channels).
func (s *Server) conversationsList(p params) result {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	var ids []string
	for id := range s.channels {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		ch := s.channels[id]
		out = append(out, map[string]any{
			"id": ch.id, "name": ch.name, "name_normalized": ch.name, "is_channel": true,
			"is_member": ch.botMember, "is_archived": false, "created": ch.created,
		})
	}
	return okResult(map[string]any{"channels": out, "response_metadata": map[string]any{"next_cursor": ""}})
}

// historyLimitLocked enforces the calls-a-minute limit of method (the
// unlisted app's by default, WithMarketplaceHistory's, or none).
func (s *Server) historyLimitLocked(method string) (result, bool) {
	if s.cfg.historyUnlimited {
		return result{}, true
	}
	now := s.cfg.clock.Now()
	if s.historyCalls == nil {
		s.historyCalls = map[string][]time.Time{}
	}
	var recent []time.Time
	for _, t := range s.historyCalls[method] {
		if now.Sub(t) < time.Minute {
			recent = append(recent, t)
		}
	}
	if len(recent) >= s.cfg.historyPerMinute {
		res := errResult("ratelimited")
		res.status = http.StatusTooManyRequests
		res.retryAfter = retryAfterSeconds(time.Minute - now.Sub(recent[0]))
		s.historyCalls[method] = recent
		return res, false
	}
	s.historyCalls[method] = append(recent, now)
	return result{}, true
}

func (s *Server) historyLimit(p params) int {
	limit := 100
	if l, err := strconv.Atoi(p["limit"]); err == nil && l > 0 {
		limit = min(l, 1000)
	}
	if !s.cfg.historyUnlimited {
		limit = min(limit, s.cfg.historyMaxItems)
	}
	return limit
}

// conversationsHistory returns the channel's top-level messages, newest
// first, a page of `limit` at a time (next_cursor and has_more as on
// Slack), optionally only those after `oldest` and before `latest`
// (`inclusive` includes both ends). Metadata is included only with
// include_all_metadata, as on Slack.
func (s *Server) conversationsHistory(p params) result {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channelLocked(p["channel"], false)
	if ch == nil {
		return errResult("channel_not_found")
	}
	if res, ok := s.historyLimitLocked("conversations.history"); !ok {
		return res
	}
	limit := s.historyLimit(p)
	withMeta := p["include_all_metadata"] == "true" || p["include_all_metadata"] == "1"
	inclusive := p["inclusive"] == "true" || p["inclusive"] == "1"
	oldest, latest := int64(-1), int64(math.MaxInt64)
	fromCursor := false
	if v, ok := tsMicros(p["oldest"]); ok {
		oldest = v
	}
	if v, ok := tsMicros(p["latest"]); ok && p["latest"] != "" {
		latest = v
	}
	if c := p["cursor"]; c != "" {
		raw, err := base64.StdEncoding.DecodeString(c)
		v, ok := tsMicros(strings.TrimPrefix(string(raw), "next_ts:"))
		if err != nil || !ok || !strings.HasPrefix(string(raw), "next_ts:") {
			return errResult("invalid_cursor")
		}
		// The cursor names the first message of the next page.
		latest, fromCursor = v, true
	}
	var out []json.RawMessage
	msgs := s.msgs[ch.id]
	next := ""
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i]
		if m.deleted || (m.threadTS != "" && m.threadTS != m.ts) {
			continue
		}
		v, _ := tsMicros(m.ts)
		if v > latest || (v == latest && !inclusive && !fromCursor) {
			continue
		}
		if v < oldest || (v == oldest && !inclusive) {
			break
		}
		if len(out) == limit {
			next = base64.StdEncoding.EncodeToString([]byte("next_ts:" + m.ts))
			break
		}
		out = append(out, s.historyObjectLocked(m, withMeta))
	}
	return okResult(map[string]any{"messages": out, "has_more": next != "", "response_metadata": map[string]any{"next_cursor": next}})
}

// tsMicros parses a message ts ("1712345678.123456") into microseconds.
func tsMicros(ts string) (int64, bool) {
	sec, frac, _ := strings.Cut(ts, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return 0, false
	}
	frac = (frac + "000000")[:6]
	f, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return 0, false
	}
	return s*1_000_000 + f, true
}

// conversationsReplies returns a thread, oldest first: the parent, then the
// replies (the newest `limit` of them when there are more).
func (s *Server) conversationsReplies(p params) result {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channelLocked(p["channel"], false)
	if ch == nil {
		return errResult("channel_not_found")
	}
	parent := s.byTS[ch.id+"/"+p["ts"]]
	if parent == nil {
		return errResult("thread_not_found")
	}
	if res, ok := s.historyLimitLocked("conversations.replies"); !ok {
		return res
	}
	limit := s.historyLimit(p)
	withMeta := p["include_all_metadata"] == "true" || p["include_all_metadata"] == "1"
	var thread []*message
	for _, m := range s.msgs[ch.id] {
		if !m.deleted && (m.ts == parent.ts || m.threadTS == parent.ts) {
			thread = append(thread, m)
		}
	}
	if len(thread) > limit {
		thread = append(thread[:1:1], thread[len(thread)-limit+1:]...)
	}
	out := make([]json.RawMessage, 0, len(thread))
	for _, m := range thread {
		out = append(out, s.historyObjectLocked(m, withMeta))
	}
	return okResult(map[string]any{"messages": out, "has_more": false, "response_metadata": map[string]any{"next_cursor": ""}})
}

func (s *Server) historyObjectLocked(m *message, withMeta bool) json.RawMessage {
	return s.appendMessageObjectLocked(m.jsonBuffer(), m, withMeta, nil)
}
