// Package slack is carebridge's Slack surface, built on slack-go: the
// Publisher that mirrors posts as Block Kit messages (escaped, threaded,
// tagged with metadata for crash reconciliation) and the receivers that
// feed one handler: the HTTP Events API (events.go) and Socket Mode
// (socket.go, a small client of Slack's WebSocket protocol of our own,
// which acknowledges our own bot's echoes without decoding them). With
// WithDirectPost (as serve uses it) the Publisher sends chat.postMessage
// built by slack-go through slack-go's HTTP client, but reads only ok,
// error, channel and ts of the answer, not Slack's echo of the message.
//
// Like every adapter it only sends and classifies errors: rate limits and
// outages come back as retryable *bridge.SendError values carrying the
// Retry-After Slack asked for; channel_not_found, not_in_channel and
// invalid_auth come back permanent. The core decides what to do.
package slack
