package xfake

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// problemContentType is X's answer to a body sent without a JSON content type.
var problemContentType = problem{
	Title: "Invalid Request", Detail: "One or more parameters to your request was invalid.", Type: typeInvalidRequest,
	Errors: []paramError{{Message: "Requests with bodies must have content-type of application/json."}},
}

// decodeBody checks the content type and decodes the JSON body into v,
// ignoring unknown fields as X does. It writes the error response itself.
func decodeBody(c *call, v any, schemaParam string) bool {
	mt, _, _ := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	if mt != "application/json" {
		writeProblem(c.w, http.StatusBadRequest, problemContentType)
		return false
	}
	if len(c.body) > maxBody {
		writeProblem(c.w, http.StatusRequestEntityTooLarge, problem{Title: "Payload Too Large", Detail: "Request body too large", Type: "about:blank", Status: 413})
		return false
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		writeProblem(c.w, http.StatusBadRequest, schemaMismatch(schemaParam))
		return false
	}
	return true
}

// schemaMismatch is X's 400 for a body that does not fit the endpoint's
// schema (shape of the recorded streams_delete_error fixture).
func schemaMismatch(param string) problem {
	return problem{
		Title: "Invalid Request", Detail: "One or more parameters to your request was invalid.", Type: typeInvalidRequest,
		Errors: []paramError{{Parameters: map[string][]string{param: {}}, Message: "JSON doesn't match expected schema"}},
	}
}

type createTweetRequest struct {
	Text  string `json:"text"`
	Reply *struct {
		InReplyToTweetID    string   `json:"in_reply_to_tweet_id"`
		ExcludeReplyUserIDs []string `json:"exclude_reply_user_ids"`
	} `json:"reply"`
	QuoteTweetID string `json:"quote_tweet_id"`
	Media        *struct {
		MediaIDs []string `json:"media_ids"`
	} `json:"media"`
}

// canEngageLocked applies the 2026 rule: an account may reply to or quote a
// post only if it wrote the post, or the post's author @mentioned or quoted it.
func (s *Server) canEngageLocked(target *tweetRec, me *User) bool {
	if s.cfg.enterprise || target.AuthorID == me.ID {
		return true
	}
	if mentionsUser(&target.Tweet, me) {
		return true
	}
	for _, r := range target.ReferencedTweets {
		if r.Type != "quoted" {
			continue
		}
		if q := s.tweets[r.ID]; q != nil && q.AuthorID == me.ID {
			return true
		}
	}
	return false
}

// mayReplyLocked applies reply_settings: the post's author, and the
// author of its conversation's first post, may limit replies to the
// accounts they mention (mentionedUsers) or, in addition, follow
// (following). It applies to every app, Enterprise included.
func (s *Server) mayReplyLocked(target *tweetRec, me *User) bool {
	for _, p := range []*tweetRec{target, s.tweets[target.ConversationID]} {
		if p == nil || p.AuthorID == me.ID || mentionsUser(&p.Tweet, me) {
			continue
		}
		switch p.ReplySettings {
		case ReplyMentionedUsers:
			return false
		case ReplyFollowing:
			if a := s.users[p.AuthorID]; a == nil || !slices.Contains(a.Follows, me.ID) {
				return false
			}
		}
	}
	return true
}

// replyMentionsLocked returns the @handles X puts in front of a reply to
// target written by me, each followed by a space: the target's author,
// then the handles that lead the target's own text (the other
// participants of the thread), leaving out me, anyone in exclude (except
// the target's author, whom X does not let a reply leave out) and handles
// the text already begins with. Every recorded reply starts this way
// (reference §1.2); that the text's own leading handles are not repeated
// is an ASSUMPTION.
func (s *Server) replyMentionsLocked(target *tweetRec, me *User, text string, exclude []string) string {
	skip := map[string]bool{strings.ToLower(me.Username): true}
	for _, h := range leadingHandles(text) {
		skip[strings.ToLower(h)] = true
	}
	excluded := map[string]bool{}
	for _, id := range exclude {
		excluded[id] = true
	}
	var b strings.Builder
	add := func(handle string) {
		if k := strings.ToLower(handle); !skip[k] {
			skip[k] = true
			b.WriteString("@" + handle + " ")
		}
	}
	if u := s.users[target.AuthorID]; u != nil {
		add(u.Username)
	}
	for _, h := range leadingHandles(target.Text) {
		if u := s.userByNameLocked(h); u != nil {
			if excluded[u.ID] {
				continue
			}
			h = u.Username
		}
		add(h)
	}
	return b.String()
}

// leadingHandles returns the handles of the run of @mentions a text
// starts with.
func leadingHandles(text string) []string {
	var out []string
	for _, m := range leadingHandleRE.FindAllStringSubmatch(leadingMentionsRE.FindString(text), -1) {
		out = append(out, m[1])
	}
	return out
}

var leadingHandleRE = regexp.MustCompile(`@([A-Za-z0-9_]{1,15})`)

func (s *Server) handleCreateTweet(c *call) {
	var req createTweetRequest
	if !decodeBody(c, &req, "body") {
		return
	}
	hasMedia := req.Media != nil && len(req.Media.MediaIDs) > 0
	if req.Text == "" && !hasMedia {
		// Assumption: wording not verified.
		writeProblem(c.w, http.StatusBadRequest, invalidRequest("text", "", "You must specify either text or media."))
		return
	}
	replyTo := ""
	if req.Reply != nil {
		replyTo = req.Reply.InReplyToTweetID
		if !idRE.MatchString(replyTo) {
			writeProblem(c.w, http.StatusBadRequest, invalidRequest("reply.in_reply_to_tweet_id", replyTo,
				fmt.Sprintf("The `reply.in_reply_to_tweet_id` query parameter value [%s] does not match ^[0-9]{1,19}$", replyTo)))
			return
		}
	}
	if req.QuoteTweetID != "" && !idRE.MatchString(req.QuoteTweetID) {
		writeProblem(c.w, http.StatusBadRequest, invalidRequest("quote_tweet_id", req.QuoteTweetID,
			fmt.Sprintf("The `quote_tweet_id` query parameter value [%s] does not match ^[0-9]{1,19}$", req.QuoteTweetID)))
		return
	}
	length := weightedLength(req.Text)
	if replyTo != "" {
		length = replyWeightedLength(req.Text)
	}
	if length > maxWeightedLength {
		// ASSUMPTION: the reference marks X's v2 over-length body as
		// unverified. We answer with the usual invalid-request shape.
		writeProblem(c.w, http.StatusBadRequest, invalidRequest("text", req.Text,
			fmt.Sprintf("Your Tweet text is too long: weighted length %d exceeds %d.", length, maxWeightedLength)))
		return
	}

	s.mu.Lock()
	me := s.userLocked(c.auth.userID, true)
	for _, target := range []string{replyTo, req.QuoteTweetID} {
		if target == "" {
			continue
		}
		t := s.tweets[target]
		if t == nil {
			s.mu.Unlock()
			writeProblem(c.w, http.StatusForbidden, problemReplyTargetGone)
			return
		}
		if target == replyTo && !s.mayReplyLocked(t, me) {
			s.mu.Unlock()
			writeProblem(c.w, http.StatusForbidden, problemReplyRestricted)
			return
		}
		if !s.canEngageLocked(t, me) {
			s.mu.Unlock()
			writeProblem(c.w, http.StatusForbidden, problemReplyNotAllowed)
			return
		}
	}
	text := req.Text
	if replyTo != "" {
		var exclude []string
		if req.Reply != nil {
			exclude = req.Reply.ExcludeReplyUserIDs
		}
		text = s.replyMentionsLocked(s.tweets[replyTo], me, text, exclude) + text
	}
	cutoff := c.now.Add(-searchWindow)
	for _, t := range s.tweetList {
		if t.CreatedAt.Before(cutoff) {
			break
		}
		if t.AuthorID == me.ID && t.Text == text && req.Text != "" {
			s.mu.Unlock()
			writeProblem(c.w, http.StatusForbidden, problemDuplicate)
			return
		}
	}
	rec := s.addTweetLocked(Tweet{Text: text, AuthorID: me.ID, CreatedAt: c.now, InReplyToTweetID: replyTo, QuotedTweetID: req.QuoteTweetID}, true)
	rec.requestText = req.Text
	s.sentTweets = append(s.sentTweets, rec.ID)
	resp := map[string]any{"data": map[string]any{"id": rec.ID, "text": rec.Text, "edit_history_tweet_ids": []string{rec.ID}}}
	s.mu.Unlock()
	writeJSON(c.w, http.StatusCreated, resp)
}

type sendDMRequest struct {
	Text        string `json:"text"`
	Attachments []struct {
		MediaID string `json:"media_id"`
	} `json:"attachments"`
}

const maxDMLength = 10000

func (s *Server) handleSendDM(c *call) {
	me := c.auth.userID
	pid := c.r.PathValue("pid")
	if cid := c.r.PathValue("cid"); cid != "" {
		a, b, ok := strings.Cut(cid, "-")
		switch {
		case !ok:
			// Group conversations are not modelled.
			writeProblem(c.w, http.StatusNotFound, problem{Title: "Not Found Error", Detail: fmt.Sprintf("Could not find dm_conversation with id: [%s].", cid), Type: typeNotFound, Status: 404})
			return
		case a == me:
			pid = b
		case b == me:
			pid = a
		default:
			writeProblem(c.w, http.StatusForbidden, problem{Title: "Forbidden", Detail: "You are not a participant in this conversation.", Type: "about:blank", Status: 403})
			return
		}
	}
	if !idRE.MatchString(pid) {
		writeProblem(c.w, http.StatusBadRequest, invalidRequest("participant_id", pid, fmt.Sprintf("The `participant_id` query parameter value [%s] does not match ^[0-9]{1,19}$", pid)))
		return
	}
	var req sendDMRequest
	if !decodeBody(c, &req, "body") {
		return
	}
	if req.Text == "" && len(req.Attachments) == 0 {
		writeProblem(c.w, http.StatusBadRequest, invalidRequest("text", "", "You must specify either text or attachments."))
		return
	}
	if utf8.RuneCountInString(req.Text) > maxDMLength {
		writeProblem(c.w, http.StatusBadRequest, invalidRequest("text", req.Text, fmt.Sprintf("The `text` parameter must be at most %d characters.", maxDMLength)))
		return
	}
	s.mu.Lock()
	if u := s.users[pid]; u != nil && u.RejectsDMs {
		s.mu.Unlock()
		writeProblem(c.w, http.StatusForbidden, problemDMRejected)
		return
	}
	rec := s.addDMLocked(DMEvent{Text: req.Text, SenderID: me, RecipientID: pid, CreatedAt: c.now}, true)
	s.sentDMs = append(s.sentDMs, rec)
	resp := map[string]any{"data": map[string]string{"dm_conversation_id": rec.DMConversationID, "dm_event_id": rec.ID}}
	s.mu.Unlock()
	writeJSON(c.w, http.StatusCreated, resp)
}

func (s *Server) handleDMEvents(c *call) {
	me := c.auth.userID
	conv := ""
	if pid := c.r.PathValue("pid"); pid != "" {
		if !idRE.MatchString(pid) {
			writeProblem(c.w, http.StatusBadRequest, invalidRequest("participant_id", pid, fmt.Sprintf("The `participant_id` query parameter value [%s] does not match ^[0-9]{1,19}$", pid)))
			return
		}
		conv = dmConversationID(me, pid)
	}
	if cid := c.r.PathValue("cid"); cid != "" {
		conv = cid
	}
	q := c.r.URL.Query()
	lp, p := parseListParams(q, 1, 100, 100, "pagination_token")
	if p != nil {
		writeProblem(c.w, http.StatusBadRequest, *p)
		return
	}
	var v view
	if v.dm, p = parseList(q, "dm_event.fields", dmFieldNames); p != nil {
		writeProblem(c.w, http.StatusBadRequest, *p)
		return
	}
	if v.user, p = parseList(q, "user.fields", userFieldNames); p != nil {
		writeProblem(c.w, http.StatusBadRequest, *p)
		return
	}
	if v.exp, p = parseList(q, "expansions", dmExpansionNames); p != nil {
		writeProblem(c.w, http.StatusBadRequest, *p)
		return
	}
	types, p := parseList(q, "event_types", dmEventTypeNames)
	if p != nil {
		writeProblem(c.w, http.StatusBadRequest, *p)
		return
	}
	cutoff := c.now.Add(-dmWindow)

	s.mu.Lock()
	var hits []*dmRec
	for _, e := range s.dms {
		if e.CreatedAt.Before(cutoff) {
			break
		}
		if e.CreatedAt.After(c.now) || (e.a != me && e.b != me) || (conv != "" && e.DMConversationID != conv) {
			continue
		}
		if len(types) > 0 && !types[e.EventType] {
			continue
		}
		hits = append(hits, e)
	}
	page, older, newer := paginate(hits, func(e *dmRec) uint64 { return e.n }, lp.max, lp.cur)
	resp := listResponse{Meta: map[string]any{"result_count": len(page)}}
	uc := &userCollector{s: s, f: v.user, seen: map[string]bool{}}
	for _, e := range page {
		resp.Data = append(resp.Data, s.renderDMLocked(e, v.dm))
		if v.exp["sender_id"] {
			uc.add(e.SenderID)
		}
		if v.exp["participant_ids"] {
			uc.add(e.a)
			uc.add(e.b)
		}
	}
	if len(uc.users) > 0 {
		resp.Includes = map[string]any{"users": uc.users}
	}
	if len(page) > 0 {
		if older {
			resp.Meta["next_token"] = nextToken(page[len(page)-1].n)
		}
		if newer {
			resp.Meta["previous_token"] = prevToken(page[0].n)
		}
	}
	s.mu.Unlock()
	writeJSON(c.w, http.StatusOK, resp)
}
