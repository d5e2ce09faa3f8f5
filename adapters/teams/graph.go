package teams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/carebridge/carebridge/bridge"
)

// DefaultGraphURL is Microsoft Graph's base.
const DefaultGraphURL = "https://graph.microsoft.com"

// DefaultGroupCacheFor is how long Graph keeps a group's members before
// asking Microsoft Graph again.
const DefaultGroupCacheFor = 5 * time.Minute

// Group references in approver, member and watcher lists on Teams:
// "group:<AAD group object id>" (its people, nested groups included) and
// "tag:<team's group id>/<tag id>" (a Teams tag's people).
const (
	GroupRefPrefix = "group:"
	TagRefPrefix   = "tag:"
)

var refGUID = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// parseGroupRef splits a group reference: a group's id (tag ""), or a
// team's id and a tag's id.
func parseGroupRef(ref string) (group, team, tag string, ok bool) {
	if g, found := strings.CutPrefix(ref, GroupRefPrefix); found {
		return g, "", "", refGUID.MatchString(g)
	}
	if t, found := strings.CutPrefix(ref, TagRefPrefix); found {
		team, tag, _ = strings.Cut(t, "/")
		return "", team, tag, refGUID.MatchString(team) && tag != ""
	}
	return "", "", "", false
}

// GraphConfig configures a Graph client.
type GraphConfig struct {
	AppID        string // the bot's Microsoft App ID (client id)
	TenantID     string // the bot's own tenant
	ClientSecret string
	TokenURL     string        // "" means TokenURL(TenantID)
	BaseURL      string        // "" means DefaultGraphURL
	CacheFor     time.Duration // 0 means DefaultGroupCacheFor
	HTTPClient   *http.Client  // nil: a client with a 30 s timeout
	Clock        bridge.Clock  // nil: the system clock
	Logger       *slog.Logger  // nil: slog.Default()
}

// Graph resolves Entra (AAD) groups and Teams tags into their people
// through Microsoft Graph, as the bot's app registration (an application
// token for https://graph.microsoft.com/.default from the bot's tenant,
// cached, fetched anew after a 401). It needs the application permissions
// GroupMember.Read.All (groups) and TeamworkTag.Read.All (tags), with admin
// consent. It is the Teams surface's bridge.GroupDirectory; members are
// cached for CacheFor. Safe for concurrent use.
type Graph struct {
	base     string
	hc       *http.Client
	clock    bridge.Clock
	log      *slog.Logger
	tokens   *tokenSource
	cacheFor time.Duration

	mu    sync.Mutex
	cache map[string]graphEntry
}

type graphEntry struct {
	users []string
	at    time.Time
}

var _ bridge.GroupDirectory = (*Graph)(nil)

// NewGraph returns a Graph client for cfg.
func NewGraph(cfg GraphConfig) (*Graph, error) {
	if cfg.AppID == "" || cfg.TenantID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("teams graph: app id, tenant id and client secret are required")
	}
	if cfg.TokenURL == "" {
		cfg.TokenURL = TokenURL(cfg.TenantID)
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultGraphURL
	}
	if cfg.CacheFor <= 0 {
		cfg.CacheFor = DefaultGroupCacheFor
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Clock == nil {
		cfg.Clock = bridge.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Graph{
		base: strings.TrimSuffix(cfg.BaseURL, "/"), hc: cfg.HTTPClient, clock: cfg.Clock, log: cfg.Logger,
		tokens: &tokenSource{
			tokenURL: cfg.TokenURL, clientID: cfg.AppID, secret: cfg.ClientSecret, scope: GraphScope,
			hc: cfg.HTTPClient, clock: cfg.Clock,
		},
		cacheFor: cfg.CacheFor,
		cache:    map[string]graphEntry{},
	}, nil
}

// TokenFetches counts the Graph tokens fetched so far.
func (g *Graph) TokenFetches() int {
	g.tokens.mu.Lock()
	defer g.tokens.mu.Unlock()
	return g.tokens.fetches
}

// IsGroup implements bridge.GroupDirectory: "group:<group id>" and
// "tag:<team id>/<tag id>" name groups; people are bare AAD object ids.
func (g *Graph) IsGroup(id string) bool {
	_, _, _, ok := parseGroupRef(id)
	return ok
}

// GroupMembers implements bridge.GroupDirectory: the AAD object ids of the
// people in a group (transitively) or tag. A failure is a
// *bridge.SendError: 429 and 5xx temporary, 403 (a permission not
// granted) and 404 permanent.
func (g *Graph) GroupMembers(ctx context.Context, ref string) ([]string, error) {
	group, team, tag, ok := parseGroupRef(ref)
	if !ok {
		return nil, &bridge.SendError{Platform: "teams", Code: "bad_group_ref", Permanent: true,
			Err: fmt.Errorf("%q is not group:<group id> or tag:<team id>/<tag id>", ref)}
	}
	now := g.clock.Now()
	g.mu.Lock()
	e, cached := g.cache[ref]
	g.mu.Unlock()
	if cached && now.Sub(e.at) < g.cacheFor {
		return e.users, nil
	}
	var (
		users []string
		err   error
	)
	if group != "" {
		users, err = g.list(ctx, "/v1.0/groups/"+url.PathEscape(group)+"/transitiveMembers/microsoft.graph.user?$select=id&$top=999", "id", "GroupMember.Read.All")
	} else {
		users, err = g.list(ctx, "/v1.0/teams/"+url.PathEscape(team)+"/tags/"+url.PathEscape(tag)+"/members", "userId", "TeamworkTag.Read.All")
	}
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	g.cache[ref] = graphEntry{users: users, at: now}
	g.mu.Unlock()
	return users, nil
}

// maxGraphPages bounds how many pages one list follows.
const maxGraphPages = 500

// list reads every page of a collection from path, collecting field of
// each item. perm is the application permission the call needs, named in
// a 403's error.
func (g *Graph) list(ctx context.Context, path, field, perm string) ([]string, error) {
	next := g.base + path
	var out []string
	for pages := 0; next != ""; pages++ {
		if pages == maxGraphPages {
			return nil, &bridge.SendError{Platform: "teams", Code: "graph_paging", Permanent: true,
				Err: fmt.Errorf("graph %s: more than %d pages", path, maxGraphPages)}
		}
		var page struct {
			Value    []map[string]any `json:"value"`
			NextLink string           `json:"@odata.nextLink"`
		}
		if err := g.get(ctx, next, perm, &page); err != nil {
			return nil, err
		}
		for _, item := range page.Value {
			if id, _ := item[field].(string); id != "" {
				out = append(out, id)
			}
		}
		next = page.NextLink
		// Our token goes only to Graph itself.
		if next != "" && !strings.HasPrefix(next, g.base+"/") {
			return nil, &bridge.SendError{Platform: "teams", Code: "graph_paging", Permanent: true,
				Err: fmt.Errorf("graph %s: next page %q is not on %s", path, next, g.base)}
		}
	}
	return out, nil
}

// get makes one GET with the Graph token; a 401 drops the token and the
// call is made once more with a fresh one.
func (g *Graph) get(ctx context.Context, u, perm string, out any) error {
	for attempt := 0; ; attempt++ {
		tok, err := g.tokens.get(ctx)
		if err != nil {
			return err
		}
		status, h, body, err := g.getOnce(ctx, u, tok)
		if err != nil {
			return err
		}
		switch {
		case status == http.StatusOK:
			if err := json.Unmarshal(body, out); err != nil {
				return &bridge.SendError{Platform: "teams", Code: "decode", Permanent: true,
					Err: fmt.Errorf("graph GET %s: %w", u, err)}
			}
			return nil
		case status == http.StatusUnauthorized && attempt == 0:
			g.log.Info("graph token refused; fetching a new one")
			g.tokens.forget(tok)
			continue
		}
		return graphError(status, h, body, perm, g.clock)
	}
}

func (g *Graph) getOnce(ctx context.Context, u, tok string) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, nil, &bridge.SendError{Platform: "teams", Code: "request", Permanent: true, Err: err}
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	resp, err := g.hc.Do(req)
	if err != nil {
		return 0, nil, nil, &bridge.SendError{Platform: "teams", Code: "network", Err: fmt.Errorf("graph GET: %w", err)}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, resp.Header, body, nil
}

// graphError classifies a Graph error answer: 429 and 5xx are temporary
// (with Retry-After); the rest permanent, a 403 naming the application
// permission perm that is missing.
func graphError(status int, h http.Header, body []byte, perm string, clock bridge.Clock) *bridge.SendError {
	var er errorResponse // Graph's error body has the connector's shape
	_ = json.Unmarshal(body, &er)
	code := er.Error.Code
	if code == "" {
		code = strconv.Itoa(status)
	}
	msg := fmt.Sprintf("graph answered %d %s: %s", status, er.Error.Code, firstLine(er.Error.Message))
	if status == http.StatusForbidden {
		msg = fmt.Sprintf("Microsoft Graph refused (403 %s): grant the bot's app registration the application permission %s, with admin consent", er.Error.Code, perm)
	}
	temporary := status == http.StatusTooManyRequests || status >= 500
	return &bridge.SendError{Platform: "teams", Code: code, Permanent: !temporary,
		RetryAfter: retryAfter(h, clock), Err: errors.New(msg)}
}
