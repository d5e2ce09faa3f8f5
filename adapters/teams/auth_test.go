package teams

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/carebridge/carebridge/adapters/teams/teamsfake"
)

// activityJSON is a channel message as the connector posts it.
func (e *env) activityJSON(id string) []byte {
	id2 := e.fake.Identity()
	act := map[string]any{
		"type": "message", "id": id, "channelId": "msteams", "serviceUrl": e.fake.ServiceURL(),
		"timestamp":    "2026-12-03T09:00:00.000Z",
		"from":         map[string]any{"id": e.ana.ID, "name": e.ana.Name, "aadObjectId": e.ana.AADObjectID},
		"recipient":    map[string]any{"id": id2.BotID, "name": id2.BotName},
		"conversation": map[string]any{"id": e.channel + ";messageid=1764752400000", "isGroup": true, "conversationType": "channel", "tenantId": id2.TenantID},
		"channelData":  map[string]any{"teamsChannelId": e.channel, "tenant": map[string]any{"id": id2.TenantID}},
		"text":         "reply: hello",
	}
	b, _ := json.Marshal(act)
	return b
}

// Every token the connector would not send is refused before the core
// sees anything: 401 for a missing or forged token, 403 for a valid one
// meant for someone else.
func TestHandlerRefusesBadTokens(t *testing.T) {
	e := newEnv(t)
	unendorsed := e.fake.AddKey([]string{"webchat"})
	noEndorsements := e.fake.AddKey(nil)
	cases := []struct {
		name string
		o    teamsfake.DeliveryOptions
		want int
	}{
		{"no token", teamsfake.DeliveryOptions{NoToken: true}, http.StatusUnauthorized},
		{"wrong audience", teamsfake.DeliveryOptions{Audience: "00000000-0000-0000-0000-000000000000"}, http.StatusForbidden},
		{"expired beyond the skew", teamsfake.DeliveryOptions{IssuedAt: -time.Hour - 6*time.Minute}, http.StatusUnauthorized},
		{"not yet valid beyond the skew", teamsfake.DeliveryOptions{IssuedAt: 11 * time.Minute}, http.StatusUnauthorized},
		{"wrong serviceurl", teamsfake.DeliveryOptions{ServiceURL: "https://attacker.example/teams/"}, http.StatusForbidden},
		{"unknown kid", teamsfake.DeliveryOptions{UnknownKey: true}, http.StatusUnauthorized},
		{"key not endorsed for msteams", teamsfake.DeliveryOptions{KID: unendorsed}, http.StatusForbidden},
		{"Bot Framework key without endorsements", teamsfake.DeliveryOptions{KID: noEndorsements}, http.StatusForbidden},
		{"alg none", teamsfake.DeliveryOptions{Alg: "none"}, http.StatusUnauthorized},
		{"HS256 keyed with the public key", teamsfake.DeliveryOptions{Alg: "HS256"}, http.StatusUnauthorized},
		{"untrusted issuer", teamsfake.DeliveryOptions{Issuer: "https://sts.windows.net/evil/"}, http.StatusUnauthorized},
		{"Bot Framework issuer on an Entra key", teamsfake.DeliveryOptions{Entra: true, Issuer: "https://api.botframework.com"}, http.StatusUnauthorized},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := e.fake.Deliver(e.ctx, e.activityJSON(fmt.Sprintf("17647524001%02d", i)), c.o)
			if err != nil {
				t.Fatal(err)
			}
			if d.Status != c.want {
				t.Fatalf("status %d, want %d (body %q)", d.Status, c.want, d.Body)
			}
			if n := len(e.core.all()); n != 0 {
				t.Fatalf("the core was called %d times for a refused request", n)
			}
		})
	}
	// And the good ones go through: Bot Framework's token, one within
	// the five minutes of skew, the tenant's Entra ID token.
	for i, o := range []teamsfake.DeliveryOptions{{}, {IssuedAt: -time.Hour - 4*time.Minute}, {IssuedAt: 9 * time.Minute}, {Entra: true}} {
		d, err := e.fake.Deliver(e.ctx, e.activityJSON(fmt.Sprintf("17647525000%02d", i)), o)
		if err != nil || d.Status != http.StatusOK {
			t.Fatalf("valid token %+v: status %d, %v (%s)", o, d.Status, err, d.Body)
		}
	}
	if n := len(e.core.all()); n != 4 {
		t.Fatalf("core saw %d events, want 4", n)
	}
}

// An unknown kid makes the handler fetch the keys again, but not more
// than once a minute: a stream of made-up kids costs one fetch. A rotated
// key is picked up by that fetch.
func TestHandlerRefetchesKeysOnUnknownKidWithAFloor(t *testing.T) {
	e := newEnv(t)
	ok := func(id string, o teamsfake.DeliveryOptions) int {
		d, err := e.fake.Deliver(e.ctx, e.activityJSON(id), o)
		if err != nil {
			t.Fatal(err)
		}
		return d.Status
	}
	if s := ok("1", teamsfake.DeliveryOptions{}); s != http.StatusOK {
		t.Fatalf("first delivery: %d", s)
	}
	if n := e.fake.Count("jwks"); n != 1 {
		t.Fatalf("jwks fetched %d times, want 1", n)
	}
	e.clock.Advance(2 * time.Minute)
	for i := range 5 {
		if s := ok(fmt.Sprint("u", i), teamsfake.DeliveryOptions{UnknownKey: true}); s != http.StatusUnauthorized {
			t.Fatalf("unknown kid: %d", s)
		}
	}
	if n := e.fake.Count("jwks"); n != 2 {
		t.Fatalf("jwks fetched %d times after 5 unknown kids, want 2 (one refetch, then the floor)", n)
	}
	// Microsoft rotates: the new kid is unknown until the floor has
	// passed, then fetched and accepted.
	kid := e.fake.RotateKeys(false)
	e.clock.Advance(61 * time.Second)
	if s := ok("2", teamsfake.DeliveryOptions{KID: kid}); s != http.StatusOK {
		t.Fatalf("rotated key: %d", s)
	}
	if n := e.fake.Count("jwks"); n != 3 {
		t.Fatalf("jwks fetched %d times, want 3", n)
	}
}

// Hostile bodies: oversize is 413, malformed JSON 400, both without a
// call to the core; a valid token is still required first.
func TestHandlerRefusesOversizeAndMalformedBodies(t *testing.T) {
	e := newEnv(t)
	big := make([]byte, 300<<10)
	for i := range big {
		big[i] = 'a'
	}
	if d, _ := e.fake.Deliver(e.ctx, big, teamsfake.DeliveryOptions{}); d.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversize: %d", d.Status)
	}
	// The token's serviceurl claim is read from the body; give it one.
	if d, _ := e.fake.Deliver(e.ctx, []byte(`{"type":"message","serviceUrl":"`+e.fake.ServiceURL()+`",`), teamsfake.DeliveryOptions{ServiceURL: e.fake.ServiceURL()}); d.Status != http.StatusBadRequest {
		t.Fatalf("malformed: %d", d.Status)
	}
	if d, _ := e.fake.Deliver(e.ctx, []byte(`{`), teamsfake.DeliveryOptions{NoToken: true}); d.Status != http.StatusUnauthorized {
		t.Fatalf("malformed without token: %d", d.Status)
	}
	if n := len(e.core.all()); n != 0 {
		t.Fatalf("core called %d times", n)
	}
}
