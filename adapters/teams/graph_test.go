package teams

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carebridge/carebridge/adapters/teams/teamsfake"
	"github.com/carebridge/carebridge/bridge/clocktest"
)

func newGraphEnv(t *testing.T) (*teamsfake.Server, *Graph, *clocktest.Clock) {
	t.Helper()
	clock := clocktest.New(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC))
	fake := teamsfake.New(teamsfake.WithClock(clock))
	t.Cleanup(fake.Close)
	id := fake.Identity()
	g, err := NewGraph(GraphConfig{
		AppID: id.AppID, TenantID: id.TenantID, ClientSecret: id.ClientSecret,
		TokenURL: fake.TokenURL(), BaseURL: fake.GraphURL(), Clock: clock, Logger: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	return fake, g, clock
}

func TestGraphIsGroupRecognisesGroupAndTagReferences(t *testing.T) {
	_, g, _ := newGraphEnv(t)
	for id, want := range map[string]bool{
		"group:3f2a9c1e-0b6d-4c1e-9a3b-8f9e7d6c5b4a":           true,
		"tag:3f2a9c1e-0b6d-4c1e-9a3b-8f9e7d6c5b4a/MjQz+/abc==": true,
		"3f2a9c1e-0b6d-4c1e-9a3b-8f9e7d6c5b4a":                 false, // a person
		"group:billing":                                        false,
		"tag:3f2a9c1e-0b6d-4c1e-9a3b-8f9e7d6c5b4a":             false,
		"S0123ABCD": false,
	} {
		if got := g.IsGroup(id); got != want {
			t.Errorf("IsGroup(%q) = %v, want %v", id, got, want)
		}
	}
}

// A group's members come in pages; nested groups' people count, the
// nested group itself does not; the answer is cached on the clock.
func TestGraphGroupMembersFollowsPagesAndCaches(t *testing.T) {
	fake, g, clock := newGraphEnv(t)
	ctx := context.Background()
	var people []string
	for range 5 {
		people = append(people, fake.AddUser("p").AADObjectID)
	}
	nested := fake.AddGroup(people[3:]...)
	group := fake.AddGroup(append(append([]string{}, people[:3]...), nested)...)
	fake.SetGraphPageSize(2) // five people: three pages

	got, err := g.GroupMembers(ctx, "group:"+group)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(people))
	if !slices.Equal(got, want) {
		t.Fatalf("members = %v, want %v", got, want)
	}
	calls := fake.Count("graph")
	if calls != 3 {
		t.Errorf("graph calls = %d, want 3 pages", calls)
	}

	// Cached: a change in Graph shows only after the cache time.
	fake.SetGroupMembers(group, people[0])
	clock.Advance(DefaultGroupCacheFor - time.Second)
	if got, _ := g.GroupMembers(ctx, "group:"+group); len(got) != 5 || fake.Count("graph") != calls {
		t.Fatalf("within the cache time: %d members, %d calls; want the cached 5 and no call", len(got), fake.Count("graph")-calls)
	}
	clock.Advance(2 * time.Second)
	if got, _ := g.GroupMembers(ctx, "group:"+group); !slices.Equal(got, people[:1]) {
		t.Fatalf("after the cache time: members = %v, want %v", got, people[:1])
	}
}

// A tag's members are people's userId, not the tag member's own id.
func TestGraphTagMembersAreUserIDs(t *testing.T) {
	fake, g, _ := newGraphEnv(t)
	a, b := fake.AddUser("Ana"), fake.AddUser("Ben")
	team := fake.Identity().TeamGroupID
	tag := fake.AddTag(team, "Billing leads", a.AADObjectID, b.AADObjectID)
	got, err := g.GroupMembers(context.Background(), "tag:"+team+"/"+tag)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{a.AADObjectID, b.AADObjectID}) {
		t.Fatalf("tag members = %v, want Ana's and Ben's AAD object ids", got)
	}
}

// Without the application permission, Graph answers 403: a permanent
// error that tells the operator which permission to grant.
func TestGraphForbiddenNamesTheMissingPermission(t *testing.T) {
	fake, g, _ := newGraphEnv(t)
	ctx := context.Background()
	group := fake.AddGroup(fake.AddUser("Ana").AADObjectID)
	team := fake.Identity().TeamGroupID
	tag := fake.AddTag(team, "Leads")
	fake.SetGraphPermission(teamsfake.PermGroupMembers, false)
	fake.SetGraphPermission(teamsfake.PermTags, false)
	for ref, perm := range map[string]string{"group:" + group: "GroupMember.Read.All", "tag:" + team + "/" + tag: "TeamworkTag.Read.All"} {
		_, err := g.GroupMembers(ctx, ref)
		se := sendErr(t, err)
		if !se.Permanent || se.Code != "Authorization_RequestDenied" || !strings.Contains(err.Error(), perm) {
			t.Errorf("%s: error %v; want a permanent Authorization_RequestDenied naming %s", ref, err, perm)
		}
	}
}

func TestGraphThrottlingIsTemporaryWithRetryAfter(t *testing.T) {
	fake, g, _ := newGraphEnv(t)
	group := fake.AddGroup(fake.AddUser("Ana").AADObjectID)
	fake.FailNext("graph", 429, "TooManyRequests", 7*time.Second)
	_, err := g.GroupMembers(context.Background(), "group:"+group)
	se := sendErr(t, err)
	if se.Permanent || se.RetryAfter != 7*time.Second {
		t.Fatalf("error %v (retry after %v); want temporary, retry after 7s", err, se.RetryAfter)
	}
	if got, err := g.GroupMembers(context.Background(), "group:"+group); err != nil || len(got) != 1 {
		t.Fatalf("after the 429: %v, %v; want Ana", got, err)
	}
}

// Graph wants a token for its own audience: the bot's connector token is
// refused with 401, and the connector refuses a Graph token.
func TestGraphTokenAudience(t *testing.T) {
	fake, g, clock := newGraphEnv(t)
	ctx := context.Background()
	group := fake.AddGroup(fake.AddUser("Ana").AADObjectID)
	id := fake.Identity()

	// A Graph client that asks for the Bot Framework scope is refused.
	wrong, _ := NewGraph(GraphConfig{AppID: id.AppID, TenantID: id.TenantID, ClientSecret: id.ClientSecret,
		TokenURL: fake.TokenURL(), BaseURL: fake.GraphURL(), Clock: clock, Logger: quiet})
	wrong.tokens.scope = BotFrameworkScope
	_, err := wrong.GroupMembers(ctx, "group:"+group)
	if se := sendErr(t, err); se.Code != "InvalidAuthenticationToken" || !se.Permanent {
		t.Fatalf("with a Bot Framework token: %v; want permanent InvalidAuthenticationToken", err)
	}
	if fake.Count("graph_401") != 2 {
		t.Errorf("graph 401s = %d, want 2 (the call and its retry with a fresh token)", fake.Count("graph_401"))
	}

	// The right client works, and its token does not open the connector.
	if _, err := g.GroupMembers(ctx, "group:"+group); err != nil {
		t.Fatal(err)
	}
	connector := &Client{appID: id.AppID, tenantID: id.TenantID, hc: g.hc, clock: clock, log: quiet,
		tokens: g.tokens, serviceURL: fake.ServiceURL(), names: map[string]string{}}
	_, err = connector.member(ctx, fake.Identity().TeamID, "nobody")
	if se := sendErr(t, err); se.Code != "401" {
		t.Fatalf("connector with a Graph token: %v; want 401", err)
	}

	// An expired token is replaced after Graph's 401.
	fake.ExpireTokens()
	fetches := g.TokenFetches()
	g.cacheFor = time.Nanosecond // skip the member cache for this call
	clock.Advance(time.Second)
	if _, err := g.GroupMembers(ctx, "group:"+group); err != nil {
		t.Fatalf("after the token expired early: %v", err)
	}
	if g.TokenFetches() != fetches+1 {
		t.Errorf("token fetches = %d, want %d", g.TokenFetches(), fetches+1)
	}
}
