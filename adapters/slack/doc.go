// Package slack is carebridge's Slack surface, built on slack-go: the
// Publisher that mirrors posts as Block Kit messages (escaped, threaded,
// tagged with metadata for crash reconciliation) through slack-go's
// PostMessageContext, and the receivers that feed one handler: the HTTP
// Events API (events.go) and Socket Mode (socket.go, on slack-go's
// socketmode client). NewClient builds the slack-go client so that a
// message Slack posted is never reported failed because slack-go could not
// decode Slack's echo of it.
//
// Like every adapter it only sends and classifies errors: rate limits and
// outages come back as retryable *bridge.SendError values carrying the
// Retry-After Slack asked for; channel_not_found, not_in_channel and
// invalid_auth come back permanent. The core decides what to do.
package slack
