// Package x is carebridge's X (Twitter) API v2 adapter: recent-search and
// mentions pollers, a DM-events poller and the filtered stream (all
// bridge.Source), a post fetcher for conversation roots, and the
// normalization of tweets and DM events into bridge.Post — including each
// post's reply eligibility under X's 2026 rule that an app may reply
// publicly only to posts that mentioned or quoted its account.
//
// Every call honours x-rate-limit-remaining/-reset: when a window is used
// up the client waits for its reset instead of calling, and a 429 blocks
// the endpoint until the reset X names. Errors come back classified as
// *bridge.SendError; the pollers retry on their next cycle and the core
// retries queued writes.
package x
