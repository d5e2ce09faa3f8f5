package teamsfake

import (
	"encoding/base64"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// The Microsoft Graph endpoints the fake serves (at URL()+"/v1.0/…", as
// at https://graph.microsoft.com/v1.0/…): a group's transitive user
// members and a Teams tag's members. As Graph does, they want an
// application token for https://graph.microsoft.com (a Bot Framework
// token gets 401 InvalidAuthenticationToken "Invalid audience"), the
// application permission each needs (GroupMember.Read.All,
// TeamworkTag.Read.All: without it, 403 Authorization_RequestDenied),
// and they answer in pages linked by @odata.nextLink.

// Graph application permissions the fake knows.
const (
	PermGroupMembers = "GroupMember.Read.All"
	PermTags         = "TeamworkTag.Read.All"
)

// DefaultGraphPageSize is Graph's default page size for member lists;
// $top may ask for up to 999.
const DefaultGraphPageSize = 100

type graphState struct {
	groups  map[string][]string  // group id → member ids (users' AAD object ids or group ids)
	tags    map[string]*graphTag // team id + "/" + tag id → tag
	denied  map[string]bool      // application permissions not granted
	pageCap int                  // 0: none
}

type graphTag struct {
	name    string
	members []string // AAD object ids
}

func (s *Server) graph() *graphState {
	if s.graphData == nil {
		s.graphData = &graphState{groups: map[string][]string{}, tags: map[string]*graphTag{}, denied: map[string]bool{}}
	}
	return s.graphData
}

func (s *Server) graphRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1.0/groups/{group}/transitiveMembers/microsoft.graph.user", s.serveGroupMembers)
	mux.HandleFunc("GET /v1.0/teams/{team}/tags/{tag}/members", s.serveTagMembers)
}

// GraphURL is the fake's Microsoft Graph base (https://graph.microsoft.com
// in production).
func (s *Server) GraphURL() string { return s.srv.URL }

// AddGroup creates an Entra group whose members are members: AAD object
// ids of people or ids of other groups (nested groups' people are
// transitive members). It returns the group's id.
func (s *Server) AddGroup(members ...string) string {
	id := randomGUID()
	s.mu.Lock()
	s.graph().groups[id] = append([]string(nil), members...)
	s.mu.Unlock()
	return id
}

// SetGroupMembers replaces a group's members.
func (s *Server) SetGroupMembers(group string, members ...string) {
	s.mu.Lock()
	s.graph().groups[group] = append([]string(nil), members...)
	s.mu.Unlock()
}

// AddTag creates a tag in the team team (a team's group id) with the
// people members (AAD object ids) and returns the tag's id.
func (s *Server) AddTag(team, name string, members ...string) string {
	id := base64.StdEncoding.EncodeToString([]byte(team + "##" + randomGUID() + "##" + randomHex(4)))
	s.mu.Lock()
	s.graph().tags[team+"/"+id] = &graphTag{name: name, members: append([]string(nil), members...)}
	s.mu.Unlock()
	return id
}

// SetGraphPermission grants or withdraws (with admin consent) one of the
// bot's application permissions, PermGroupMembers or PermTags. Both are
// granted by default.
func (s *Server) SetGraphPermission(perm string, granted bool) {
	s.mu.Lock()
	s.graph().denied[perm] = !granted
	s.mu.Unlock()
}

// SetGraphPageSize makes Graph answer at most n items a page whatever
// $top asks (Graph may return fewer than $top; clients follow
// @odata.nextLink), so that tests see paging with a few members.
func (s *Server) SetGraphPageSize(n int) {
	s.mu.Lock()
	s.graph().pageCap = n
	s.mu.Unlock()
}

// graphGate checks a Graph call's token, scripted failures (FailNext with
// op "graph") and the permission perm. It writes the error and returns
// false when the call stops.
func (s *Server) graphGate(w http.ResponseWriter, r *http.Request, perm string) bool {
	s.count("graph")
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	t, known := s.tokens[tok]
	now := s.clock.Now()
	s.mu.Unlock()
	msg := ""
	switch {
	case tok == "":
		msg = "Access token is empty."
	case !known:
		msg = "IDX14100: JWT is not well formed."
	case t.audience != graphResource:
		msg = "Access token validation failure. Invalid audience."
	case !now.Before(t.expires):
		msg = "Lifetime validation failed, the token is expired."
	}
	if msg != "" {
		s.count("graph_401")
		writeGraphError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", msg)
		return false
	}
	s.mu.Lock()
	for i, f := range s.failures {
		if f.op == "graph" {
			s.failures = append(s.failures[:i], s.failures[i+1:]...)
			s.mu.Unlock()
			if f.retryAfter > 0 {
				w.Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(f.retryAfter.Seconds()))))
			}
			writeGraphError(w, f.status, f.code, "Scripted failure.")
			return false
		}
	}
	denied := s.graph().denied[perm]
	s.mu.Unlock()
	if denied {
		writeGraphError(w, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
		return false
	}
	return true
}

func writeGraphError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"code": code, "message": msg,
		"innerError": map[string]string{"request-id": randomGUID(), "client-request-id": randomGUID()},
	}})
}

func (s *Server) serveGroupMembers(w http.ResponseWriter, r *http.Request) {
	if !s.graphGate(w, r, PermGroupMembers) {
		return
	}
	group := r.PathValue("group")
	s.mu.Lock()
	g := s.graph()
	if _, ok := g.groups[group]; !ok {
		s.mu.Unlock()
		writeGraphError(w, http.StatusNotFound, "Request_ResourceNotFound",
			fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", group))
		return
	}
	// Transitive user members, each once, in a stable order.
	var users []string
	seen := map[string]bool{}
	var walk func(id string)
	walk = func(id string) {
		for _, m := range g.groups[id] {
			if seen[m] {
				continue
			}
			seen[m] = true
			if _, isGroup := g.groups[m]; isGroup {
				walk(m)
			} else {
				users = append(users, m)
			}
		}
	}
	seen[group] = true
	walk(group)
	items := make([]map[string]any, 0, len(users))
	for _, u := range users {
		item := map[string]any{"@odata.type": "#microsoft.graph.user", "id": u}
		if p := s.users[u]; p != nil && r.URL.Query().Get("$select") != "id" {
			item["displayName"] = p.Name
		}
		items = append(items, item)
	}
	s.mu.Unlock()
	s.page(w, r, "https://graph.microsoft.com/v1.0/$metadata#users", items)
}

func (s *Server) serveTagMembers(w http.ResponseWriter, r *http.Request) {
	if !s.graphGate(w, r, PermTags) {
		return
	}
	team, tagID := r.PathValue("team"), r.PathValue("tag")
	s.mu.Lock()
	tag := s.graph().tags[team+"/"+tagID]
	var items []map[string]any
	if tag != nil {
		items = make([]map[string]any, 0, len(tag.members))
		for _, u := range tag.members {
			name := ""
			if p := s.users[u]; p != nil {
				name = p.Name
			}
			// A tag member's id is its own; userId is the person's AAD
			// object id.
			items = append(items, map[string]any{
				"id":          base64.StdEncoding.EncodeToString([]byte(tagID + "##" + u)),
				"displayName": name, "tenantId": s.tenantID, "userId": u,
			})
		}
	}
	s.mu.Unlock()
	if tag == nil {
		writeGraphError(w, http.StatusNotFound, "NotFound", "Tag not found.")
		return
	}
	s.page(w, r, "https://graph.microsoft.com/v1.0/$metadata#teams('"+team+"')/tags('"+tagID+"')/members", items)
}

// page answers one page of items, from $skiptoken, of $top (default
// DefaultGraphPageSize, at most 999) or the page cap, with an
// @odata.nextLink to the next page when there is one.
func (s *Server) page(w http.ResponseWriter, r *http.Request, context string, items []map[string]any) {
	q := r.URL.Query()
	size := DefaultGraphPageSize
	if v := q.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 999 {
			writeGraphError(w, http.StatusBadRequest, "Request_BadRequest", "Invalid page size specified: '"+v+"'. Must be between 1 and 999 inclusive.")
			return
		}
		size = n
	}
	s.mu.Lock()
	if c := s.graph().pageCap; c > 0 && c < size {
		size = c
	}
	s.mu.Unlock()
	from := 0
	if v := q.Get("$skiptoken"); v != "" {
		raw, err := base64.RawURLEncoding.DecodeString(v)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(raw), "skip:"))
		if err != nil || err2 != nil || n < 0 || n > len(items) {
			writeGraphError(w, http.StatusBadRequest, "Directory_ExpiredPageToken", "The specified page token value has expired and can no longer be included in your request.")
			return
		}
		from = n
	}
	to := min(from+size, len(items))
	out := map[string]any{"@odata.context": context, "value": items[from:to]}
	if to < len(items) {
		q.Set("$skiptoken", base64.RawURLEncoding.EncodeToString([]byte("skip:"+strconv.Itoa(to))))
		out["@odata.nextLink"] = s.srv.URL + r.URL.EscapedPath() + "?" + q.Encode()
	}
	writeJSON(w, http.StatusOK, out)
}
