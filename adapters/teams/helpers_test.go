package teams

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/carebridge/carebridge/adapters/teams/teamsfake"
	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/clocktest"
)

// recorder is the core as the Handler sees it: it keeps the events.
type recorder struct {
	mu     sync.Mutex
	events []bridge.ChatEvent
	fail   error
}

func (r *recorder) HandleChatEvent(ctx context.Context, ev bridge.ChatEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.events = append(r.events, ev)
	return nil
}

func (r *recorder) all() []bridge.ChatEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]bridge.ChatEvent(nil), r.events...)
}

func (r *recorder) failWith(err error) {
	r.mu.Lock()
	r.fail = err
	r.mu.Unlock()
}

// testGestures are the gestures the tests configure: "like" approves,
// as the default configuration will.
var testGestures = bridge.Gestures{Approve: "like", ApproveDM: "approve_dm", Reject: "reject"}

// env is a bot wired to a Teams fake: client, publisher, and the endpoint
// served over HTTP as in production.
type env struct {
	t       *testing.T
	fake    *teamsfake.Server
	clock   *clocktest.Clock
	client  *Client
	pub     *Publisher
	handler *Handler
	core    *recorder
	channel string
	ana     teamsfake.User
	ctx     context.Context
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newEnv(t *testing.T, opts ...teamsfake.Option) *env {
	t.Helper()
	clock := clocktest.New(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC))
	fake := teamsfake.New(append([]teamsfake.Option{teamsfake.WithClock(clock)}, opts...)...)
	t.Cleanup(fake.Close)
	id := fake.Identity()
	client, err := NewClient(ClientConfig{
		AppID: id.AppID, TenantID: id.TenantID, ClientSecret: id.ClientSecret,
		ServiceURL: fake.ServiceURL(), TokenURL: fake.TokenURL(), Clock: clock, Logger: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	core := &recorder{}
	h, err := NewHandler(HandlerConfig{
		AppID: id.AppID, OpenIDMetadataURL: fake.OpenIDMetadataURL(),
		ExtraIssuers: []TrustedIssuer{{Issuer: fake.EntraIssuer(), OpenIDMetadataURL: fake.EntraOpenIDMetadataURL()}},
		Client:       client, Clock: clock, Logger: quiet,
	}, testGestures, core)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	fake.SetEndpoint(srv.URL + "/teams/messages")
	return &env{
		t: t, fake: fake, clock: clock, client: client, handler: h, core: core,
		pub:     NewPublisher(client, PublisherConfig{TeamID: id.TeamID, TeamGroupID: id.TeamGroupID}),
		channel: fake.AddChannel("care-network"),
		ana:     fake.AddUser("Ana Lima"),
		ctx:     context.Background(),
	}
}

// parent posts a ticket's first message and returns its thread root.
func (e *env) parent(text string) string {
	e.t.Helper()
	ref, err := e.pub.Publish(e.ctx, bridge.ChatMessage{
		Kind: bridge.MessageParent, Channel: e.channel,
		Ticket: &bridge.Ticket{Account: "SBCare", Matched: []string{"wifi"}},
		Post:   &bridge.Post{Platform: "x", AuthorHandle: "kenta", AuthorName: "Kenta", Text: text, URL: "https://x.com/kenta/status/1", Eligibility: bridge.EligiblePublic},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return ref.TS
}

func sendErr(t *testing.T, err error) *bridge.SendError {
	t.Helper()
	var se *bridge.SendError
	if !errors.As(err, &se) {
		t.Fatalf("error %v is not a *bridge.SendError", err)
	}
	return se
}
