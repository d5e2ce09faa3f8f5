package slack

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"
)

// HTTPDoer is what the Publisher needs of an HTTP client (*http.Client
// satisfies it, as it does slack-go's own client interface).
type HTTPDoer interface {
	Do(*http.Request) (*http.Response, error)
}

// PublisherOption configures a Publisher.
type PublisherOption func(*Publisher)

// WithDirectPost makes the Publisher send chat.postMessage itself, through
// hc to apiURL ("https://slack.com/api/") with the bot token: give it the
// HTTP client, API URL and token its slack-go client was built with. The
// request is the one slack-go would send (built by slack-go from the same
// options); only the answer is read differently: slack-go decodes Slack's
// echo of the whole posted message, every Block Kit block of it, which
// costs more CPU than everything else in a post and fails on a block
// element slack-go does not know, although the message was posted. The
// Publisher reads ok, error, channel and ts, and ignores the echo.
// Without this option, messages are posted through slack-go.
func WithDirectPost(hc HTTPDoer, apiURL, token string) PublisherOption {
	return func(p *Publisher) {
		if hc == nil {
			hc = http.DefaultClient
		}
		if !strings.HasSuffix(apiURL, "/") {
			apiURL += "/"
		}
		p.direct = &directPoster{hc: hc, apiURL: apiURL, token: token}
	}
}

// directPoster sends chat.postMessage without decoding Slack's echo of the
// message.
type directPoster struct {
	hc     HTTPDoer
	apiURL string
	token  string
}

// postResponse is the part of chat.postMessage's answer carebridge uses.
// The echoed "message" is skipped by the decoder without being decoded.
type postResponse struct {
	Channel string `json:"channel"`
	TS      string `json:"ts"`
	slack.SlackResponse
}

// post sends a message and returns its channel id and ts. Errors are those
// slack-go returns for the same answers (*slack.RateLimitedError for a 429
// with Retry-After, slack.StatusCodeError for another status than 200,
// slack.SlackErrorResponse for ok:false, the HTTP client's error for
// network failures), so Classify treats them alike.
func (d *directPoster) post(ctx context.Context, channel string, blocks []slack.Block, opts ...slack.MsgOption) (string, string, error) {
	endpoint, values, err := slack.UnsafeApplyMsgOptions(d.token, channel, d.apiURL, append([]slack.MsgOption{slack.MsgOptionPost()}, opts...)...)
	if err != nil {
		return "", "", err
	}
	// UnsafeApplyMsgOptions leaves blocks out of the form: slack-go's
	// sender adds them as below (no blocks is "[]").
	if blocks == nil {
		blocks = []slack.Block{}
	}
	raw, err := json.Marshal(blocks)
	if err != nil {
		return "", "", err
	}
	values.Set("blocks", string(raw))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(values.Encode()))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := d.hc.Do(req)
	if err != nil {
		return "", "", err
	}
	defer func() {
		// Drain what the decoder left so the connection is reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}()
	if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") != "" {
		secs, err := strconv.ParseInt(resp.Header.Get("Retry-After"), 10, 64)
		if err != nil {
			return "", "", err
		}
		return "", "", &slack.RateLimitedError{RetryAfter: time.Duration(secs) * time.Second}
	}
	if resp.StatusCode != http.StatusOK {
		return "", "", slack.StatusCodeError{Code: resp.StatusCode, Status: resp.Status}
	}
	var r postResponse
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return "", "", err
	}
	if err := r.Err(); err != nil {
		return "", "", err
	}
	return r.Channel, r.TS, nil
}
