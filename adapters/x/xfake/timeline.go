package xfake

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

const (
	searchWindow    = 7 * 24 * time.Hour
	dmWindow        = 30 * 24 * time.Hour
	mentionsCap     = 800
	userTweetsCap   = 3200
	selfServeQuery  = 512
	enterpriseQuery = 4096
)

var idRE = regexp.MustCompile(`^[0-9]{1,19}$`)

// cursor is a decoded pagination token: next pages go to older items,
// previous pages to newer ones.
type cursor struct {
	set  bool
	prev bool
	id   uint64
}

// Pagination tokens are opaque to clients; the fake encodes the boundary id.
func nextToken(id uint64) string { return "xfn" + strconv.FormatUint(id, 36) }
func prevToken(id uint64) string { return "xfp" + strconv.FormatUint(id, 36) }

func parseToken(tok string) (cursor, bool) {
	if len(tok) < 4 || (tok[:3] != "xfn" && tok[:3] != "xfp") {
		return cursor{}, false
	}
	n, err := strconv.ParseUint(tok[3:], 36, 64)
	if err != nil {
		return cursor{}, false
	}
	return cursor{set: true, prev: tok[2] == 'p', id: n}, true
}

// listParams are the paging and bounding parameters the list endpoints share.
type listParams struct {
	max          int
	since, until uint64
	start, end   time.Time
	cur          cursor
}

func idParam(q url.Values, name string) (uint64, *problem) {
	v := q.Get(name)
	if v == "" {
		return 0, nil
	}
	if !idRE.MatchString(v) {
		p := invalidRequest(name, v, fmt.Sprintf("The `%s` query parameter value [%s] does not match ^[0-9]{1,19}$", name, v))
		return 0, &p
	}
	n, _ := strconv.ParseUint(v, 10, 64)
	return n, nil
}

func timeParam(q url.Values, name string) (time.Time, *problem) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		p := invalidRequest(name, v, fmt.Sprintf("The `%s` query parameter value [%s] is not a valid RFC3339 date-time", name, v))
		return time.Time{}, &p
	}
	return t, nil
}

// parseListParams reads max_results (lo..hi, default def), since_id,
// until_id, start_time, end_time and the pagination token parameters.
func parseListParams(q url.Values, lo, hi, def int, tokenParams ...string) (listParams, *problem) {
	lp := listParams{max: def}
	if v := q.Get("max_results"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			p := invalidRequest("max_results", v, fmt.Sprintf("The `max_results` query parameter value [%s] is not between %d and %d", v, lo, hi))
			return lp, &p
		}
		lp.max = n
	}
	var p *problem
	if lp.since, p = idParam(q, "since_id"); p != nil {
		return lp, p
	}
	if lp.until, p = idParam(q, "until_id"); p != nil {
		return lp, p
	}
	if lp.start, p = timeParam(q, "start_time"); p != nil {
		return lp, p
	}
	if lp.end, p = timeParam(q, "end_time"); p != nil {
		return lp, p
	}
	for _, name := range tokenParams {
		v := q.Get(name)
		if v == "" {
			continue
		}
		c, ok := parseToken(v)
		if !ok {
			// Assumption: X's wording for a malformed token is unverified.
			p := invalidRequest(name, v, fmt.Sprintf("The `%s` query parameter value [%s] is not a valid token", name, v))
			return lp, &p
		}
		lp.cur = c
	}
	return lp, nil
}

// keep reports whether an item with id n created at t passes the bounds.
func (lp listParams) keep(n uint64, t time.Time) bool {
	if lp.since != 0 && n <= lp.since {
		return false
	}
	if lp.until != 0 && n >= lp.until {
		return false
	}
	if !lp.start.IsZero() && t.Before(lp.start) {
		return false
	}
	if !lp.end.IsZero() && !t.Before(lp.end) {
		return false
	}
	return true
}

// paginate cuts one page out of items (sorted newest first). older/newer
// report whether items exist beyond the page in either direction.
func paginate[T any](items []T, id func(T) uint64, max int, c cursor) (page []T, older, newer bool) {
	if !c.set {
		if len(items) > max {
			return items[:max], true, false
		}
		return items, false, false
	}
	if !c.prev {
		i := 0
		for i < len(items) && id(items[i]) >= c.id {
			i++
		}
		rest := items[i:]
		if len(rest) > max {
			return rest[:max], true, i > 0
		}
		return rest, false, i > 0
	}
	j := 0
	for j < len(items) && id(items[j]) > c.id {
		j++
	}
	newerItems := items[:j]
	if len(newerItems) > max {
		return newerItems[len(newerItems)-max:], j < len(items), true
	}
	return newerItems, j < len(items), false
}

// tweetPageLocked renders a page of tweets with meta in X's shape.
// withPrev adds previous_token (timelines have it, search does not).
func (s *Server) tweetPageLocked(all []*tweetRec, lp listParams, v view, withPrev bool) listResponse {
	page, older, newer := paginate(all, func(t *tweetRec) uint64 { return t.n }, lp.max, lp.cur)
	resp := listResponse{Meta: map[string]any{"result_count": len(page)}}
	if len(page) == 0 {
		return resp
	}
	ts := make([]*Tweet, 0, len(page))
	for _, t := range page {
		resp.Data = append(resp.Data, s.renderTweetLocked(&t.Tweet, v))
		ts = append(ts, &t.Tweet)
	}
	resp.Includes, resp.Errors = s.includesLocked(ts, v)
	resp.Meta["newest_id"] = page[0].ID
	resp.Meta["oldest_id"] = page[len(page)-1].ID
	if older {
		resp.Meta["next_token"] = nextToken(page[len(page)-1].n)
	}
	if withPrev && newer {
		resp.Meta["previous_token"] = prevToken(page[0].n)
	}
	return resp
}

func (s *Server) handleSearch(c *call) {
	q := c.r.URL.Query()
	qs := q.Get("query")
	if strings.TrimSpace(qs) == "" {
		writeProblem(c.w, http.StatusBadRequest, invalidRequest("query", qs, "The `query` query parameter can not be empty"))
		return
	}
	maxLen := selfServeQuery
	if s.cfg.enterprise {
		maxLen = enterpriseQuery
	}
	cq, err := compileQuery(qs, maxLen)
	if err != nil {
		writeProblem(c.w, http.StatusBadRequest, invalidRequest("query", qs, err.Error()))
		return
	}
	lp, p := parseListParams(q, 10, 100, 10, "next_token", "pagination_token")
	if p != nil {
		writeProblem(c.w, http.StatusBadRequest, *p)
		return
	}
	if so := q.Get("sort_order"); so != "" && so != "recency" && so != "relevancy" {
		writeProblem(c.w, http.StatusBadRequest, invalidRequest("sort_order", so, fmt.Sprintf("The `sort_order` query parameter value [%s] is not one of [recency,relevancy]", so)))
		return
	}
	v, p := tweetView(q, false)
	if p != nil {
		writeProblem(c.w, http.StatusBadRequest, *p)
		return
	}
	cutoff := c.now.Add(-searchWindow)
	if lp.since != 0 && snowflakeTime(lp.since).Before(cutoff) {
		floor := snowflakeFloor(cutoff)
		writeProblem(c.w, http.StatusBadRequest, invalidRequest("since_id", fmtID(lp.since),
			fmt.Sprintf("'since_id' must be a tweet id created after %s. Please use a 'since_id' that is larger than %d",
				cutoff.Format("2006-01-02T15:04Z"), floor)))
		return
	}
	if !lp.start.IsZero() && lp.start.Before(cutoff) {
		// Assumption: wording of X's start_time-too-old error is unverified.
		writeProblem(c.w, http.StatusBadRequest, invalidRequest("start_time", q.Get("start_time"),
			fmt.Sprintf("Invalid 'start_time':'%s'. 'start_time' must be on or after %s", q.Get("start_time"), cutoff.Format("2006-01-02T15:04Z"))))
		return
	}
	s.mu.Lock()
	var hits []*tweetRec
	for _, t := range s.tweetList {
		if t.CreatedAt.Before(cutoff) {
			break // newest first: the rest is older still
		}
		if t.CreatedAt.After(c.now) || !lp.keep(t.n, t.CreatedAt) {
			continue
		}
		if cq.root.match(s.docLocked(&t.Tweet)) {
			hits = append(hits, t)
		}
	}
	resp := s.tweetPageLocked(hits, lp, v, false)
	s.mu.Unlock()
	writeJSON(c.w, http.StatusOK, resp)
}

// pathID validates an id path parameter.
func pathID(c *call, name string) (string, bool) {
	id := c.r.PathValue(name)
	if !idRE.MatchString(id) {
		writeProblem(c.w, http.StatusBadRequest, invalidRequest(name, id, fmt.Sprintf("The `%s` query parameter value [%s] does not match ^[0-9]{1,19}$", name, id)))
		return "", false
	}
	return id, true
}

func (s *Server) handleMentions(c *call) { s.timeline(c, true) }

func (s *Server) handleUserTweets(c *call) { s.timeline(c, false) }

// timeline serves GET /2/users/:id/mentions and GET /2/users/:id/tweets.
func (s *Server) timeline(c *call, mentions bool) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	q := c.r.URL.Query()
	lp, p := parseListParams(q, 5, 100, 10, "pagination_token")
	if p != nil {
		writeProblem(c.w, http.StatusBadRequest, *p)
		return
	}
	v, p := tweetView(q, false)
	if p != nil {
		writeProblem(c.w, http.StatusBadRequest, *p)
		return
	}
	var exclRT, exclReplies bool
	for _, e := range csv(q.Get("exclude")) {
		switch e {
		case "retweets":
			exclRT = true
		case "replies":
			exclReplies = true
		default:
			writeProblem(c.w, http.StatusBadRequest, invalidRequest("exclude", e, fmt.Sprintf("The `exclude` query parameter value [%s] is not one of [replies,retweets]", e)))
			return
		}
	}
	s.mu.Lock()
	body := s.timelineLocked(id, mentions, exclRT, exclReplies, lp, v, c.now)
	s.mu.Unlock()
	writeJSON(c.w, http.StatusOK, body)
}

func (s *Server) timelineLocked(id string, mentions, exclRT, exclReplies bool, lp listParams, v view, now time.Time) any {
	u := s.users[id]
	if u == nil {
		return singleResponse{Errors: []resourceError{notFound("user", "id", id)}}
	}
	limit := userTweetsCap
	if mentions {
		limit = mentionsCap
	}
	var hits []*tweetRec
	n := 0
	for _, t := range s.tweetList {
		if n == limit {
			break
		}
		if t.CreatedAt.After(now) {
			continue
		}
		if mentions {
			if !mentionsUser(&t.Tweet, u) {
				continue
			}
		} else if t.AuthorID != id || (exclRT && hasRef(&t.Tweet, "retweeted")) || (exclReplies && hasRef(&t.Tweet, "replied_to")) {
			continue
		}
		n++ // only the newest `limit` items are reachable at all
		if lp.keep(t.n, t.CreatedAt) {
			hits = append(hits, t)
		}
	}
	return s.tweetPageLocked(hits, lp, v, true)
}

func mentionsUser(t *Tweet, u *User) bool {
	for _, m := range t.Mentions {
		if m.ID == u.ID || strings.EqualFold(m.Username, u.Username) {
			return true
		}
	}
	return false
}

func (s *Server) handleTweetByID(c *call) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	v, p := tweetView(c.r.URL.Query(), false)
	if p != nil {
		writeProblem(c.w, http.StatusBadRequest, *p)
		return
	}
	s.mu.Lock()
	var resp singleResponse
	if t := s.tweets[id]; t != nil {
		resp.Data = s.renderTweetLocked(&t.Tweet, v)
		resp.Includes, resp.Errors = s.includesLocked([]*Tweet{&t.Tweet}, v)
	} else {
		resp.Errors = []resourceError{notFound("tweet", "id", id)}
	}
	s.mu.Unlock()
	writeJSON(c.w, http.StatusOK, resp)
}

func (s *Server) handleTweetsByIDs(c *call) {
	q := c.r.URL.Query()
	ids := csv(q.Get("ids"))
	if len(ids) == 0 || len(ids) > 100 {
		writeProblem(c.w, http.StatusBadRequest, invalidRequest("ids", q.Get("ids"), fmt.Sprintf("The `ids` query parameter value [%s] is not valid: 1 to 100 comma-separated ids", q.Get("ids"))))
		return
	}
	for _, id := range ids {
		if !idRE.MatchString(id) {
			writeProblem(c.w, http.StatusBadRequest, invalidRequest("ids", id, fmt.Sprintf("The `ids` query parameter value [%s] does not match ^[0-9]{1,19}$", id)))
			return
		}
	}
	v, p := tweetView(q, false)
	if p != nil {
		writeProblem(c.w, http.StatusBadRequest, *p)
		return
	}
	s.mu.Lock()
	var resp listResponse
	var found []*Tweet
	var errs []resourceError
	for _, id := range ids {
		if t := s.tweets[id]; t != nil {
			resp.Data = append(resp.Data, s.renderTweetLocked(&t.Tweet, v))
			found = append(found, &t.Tweet)
		} else {
			errs = append(errs, notFound("tweet", "ids", id))
		}
	}
	resp.Includes, resp.Errors = s.includesLocked(found, v)
	resp.Errors = append(errs, resp.Errors...)
	s.mu.Unlock()
	// GET /2/tweets has no meta; marshal without it.
	writeJSON(c.w, http.StatusOK, singleList{Data: resp.Data, Includes: resp.Includes, Errors: resp.Errors})
}

// singleList is a list without meta (multi-id lookups).
type singleList struct {
	Data     []map[string]any `json:"data,omitempty"`
	Includes map[string]any   `json:"includes,omitempty"`
	Errors   []resourceError  `json:"errors,omitempty"`
}

func (s *Server) writeUser(c *call, u *User, errs []resourceError) {
	v, p := tweetView(c.r.URL.Query(), true)
	if p != nil {
		writeProblem(c.w, http.StatusBadRequest, *p)
		return
	}
	var resp singleResponse
	s.mu.Lock()
	if u != nil {
		resp.Data = s.renderUserLocked(u, v.user)
	}
	resp.Errors = errs
	s.mu.Unlock()
	writeJSON(c.w, http.StatusOK, resp)
}

func (s *Server) handleMe(c *call) {
	s.mu.Lock()
	u := s.userLocked(c.auth.userID, true)
	s.mu.Unlock()
	s.writeUser(c, u, nil)
}

func (s *Server) handleUserByID(c *call) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	s.mu.Lock()
	u := s.users[id]
	s.mu.Unlock()
	if u == nil {
		s.writeUser(c, nil, []resourceError{notFound("user", "id", id)})
		return
	}
	s.writeUser(c, u, nil)
}

var usernameRE = regexp.MustCompile(`^[A-Za-z0-9_]{1,15}$`)

func (s *Server) handleUserByName(c *call) {
	name := c.r.PathValue("username")
	if !usernameRE.MatchString(name) {
		writeProblem(c.w, http.StatusBadRequest, invalidRequest("username", name, fmt.Sprintf("The `username` query parameter value [%s] does not match ^[A-Za-z0-9_]{1,15}$", name)))
		return
	}
	s.mu.Lock()
	u := s.userByNameLocked(name)
	s.mu.Unlock()
	if u == nil {
		s.writeUser(c, nil, []resourceError{notFound("user", "username", name)})
		return
	}
	s.writeUser(c, u, nil)
}
