// Package bsky is carebridge's Bluesky (AT Protocol) adapter: a
// notifications poller for mentions and replies to our accounts and a
// Jetstream source for keyword listening (both bridge.Source), a post
// fetcher, the replier (public replies as app.bsky.feed.post records with
// strong-ref reply links and mention facets, and DMs through the chat
// service), and Bluesky's rules for the core (bridge.Network: 300
// graphemes, reply gates, its refusals in plain words).
//
// It speaks XRPC over net/http with a few lexicon structs of its own
// rather than through indigo (docs/ARCHITECTURE.md says why), and the
// Jetstream wire (JSON text frames) through gorilla/websocket.
//
// Sign-in is with an app password: one com.atproto.server.createSession,
// the session kept in the store (State) and refreshed on ExpiredToken;
// sign-ins are counted against Bluesky's 30 per 5 minutes and 300 a day
// and never retried in a loop. Writes are counted against the account's
// 5,000 points an hour. Errors come back classified as *bridge.SendError.
package bsky
