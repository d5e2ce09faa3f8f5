package slackfake_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/carebridge/carebridge/adapters/slack/slackfake"
)

// TestDropSockets: a dropped connection fails on the client's side, the
// fake forgets it, and an envelope it left unacked is delivered again on
// the next connection.
func TestDropSockets(t *testing.T) {
	f := slackfake.New(slackfake.WithAckTimeout(100*time.Millisecond), slackfake.WithRetryDelays(0))
	defer f.Close()
	f.AddChannel(chanCare, "care-network", alice)
	dial := func() *websocket.Conn {
		t.Helper()
		_, wsURL, err := apiFor(f).StartSocketModeContext(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		conn, _, err := websocket.DefaultDialer.Dial(wsURL, http.Header{"Origin": {"https://api.slack.com"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		var hello map[string]any
		if err := conn.ReadJSON(&hello); err != nil || hello["type"] != "hello" {
			t.Fatalf("hello = %v, %v", hello, err)
		}
		return conn
	}
	conn := dial()
	if _, err := f.UserPosts(chanCare, alice, "", "in flight"); err != nil {
		t.Fatal(err)
	}
	var env map[string]any
	if err := conn.ReadJSON(&env); err != nil || env["type"] != "events_api" {
		t.Fatalf("envelope = %v, %v", env, err)
	}
	if n := f.DropSockets(); n != 1 {
		t.Fatalf("DropSockets = %d, want 1", n)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := conn.ReadMessage(); err == nil {
		t.Fatal("read on a dropped connection succeeded")
	} else if !websocket.IsCloseError(err, websocket.CloseAbnormalClosure) { // 1006: no close frame came
		t.Fatalf("read error %v, want a cut connection (1006)", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.SocketConnections() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the fake still counts the dropped connection")
		}
		time.Sleep(5 * time.Millisecond)
	}

	conn2 := dial()
	var again map[string]any
	_ = conn2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := conn2.ReadJSON(&again); err != nil || again["type"] != "events_api" || again["retry_attempt"] != float64(1) {
		t.Fatalf("redelivery = %v, %v", again, err)
	}
	if err := conn2.WriteJSON(map[string]any{"envelope_id": again["envelope_id"]}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if ev := f.Events()[0]; !ev.Delivered || ev.Attempts != 2 {
		t.Errorf("delivered=%v attempts=%d, want delivered on the second attempt", ev.Delivered, ev.Attempts)
	}
}
