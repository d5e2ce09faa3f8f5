package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"

	"github.com/slack-go/slack"
)

// HTTPDoer is what slack-go needs of an HTTP client (*http.Client
// satisfies it).
type HTTPDoer interface {
	Do(*http.Request) (*http.Response, error)
}

// NewClient returns the slack-go client carebridge talks to Slack with:
// slack.New(token, opts...) over hc (nil: http.DefaultClient), which it
// wraps so that the Publisher also reads the outcome of each
// chat.postMessage from Slack's answer itself. slack-go decodes Slack's
// echo of the whole posted message, every Block Kit block of it, and
// fails on a block element it does not know (slack.ContextElements
// refuses unknown element types) although Slack posted the message; the
// Publisher then reports the message posted, with the channel and ts
// Slack gave, instead of failing it and posting it again. Give every
// Publisher a client made here; opts must not set slack.OptionHTTPClient.
func NewClient(token string, hc HTTPDoer, opts ...slack.Option) *slack.Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return slack.New(token, append(opts, slack.OptionHTTPClient(postAnswerRecorder{hc}))...)
}

// postAnswer is the part of a chat.postMessage answer the Publisher
// relies on, as Slack sent it.
type postAnswer struct {
	seen    bool   // the request reached the recorder and Slack answered 200
	OK      bool   `json:"ok"`
	Channel string `json:"channel"`
	TS      string `json:"ts"`
}

// accepted reports whether Slack answered that it posted the message.
func (a *postAnswer) accepted() bool { return a.seen && a.OK && a.TS != "" }

type postAnswerKey struct{}

// withPostAnswer asks the recorder to fill a with the answer to the
// request made with the returned context.
func withPostAnswer(ctx context.Context, a *postAnswer) context.Context {
	return context.WithValue(ctx, postAnswerKey{}, a)
}

// postAnswerRecorder is the HTTP client NewClient gives slack-go. For a
// request whose context carries a *postAnswer, it reads Slack's 200
// answer, keeps ok, channel and ts (the echoed message is skipped, not
// decoded), and hands slack-go the same bytes.
type postAnswerRecorder struct{ hc HTTPDoer }

func (r postAnswerRecorder) Do(req *http.Request) (*http.Response, error) {
	a, _ := req.Context().Value(postAnswerKey{}).(*postAnswer)
	resp, err := r.hc.Do(req)
	if a == nil || err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if json.Unmarshal(body, a) == nil {
		a.seen = true
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}
