// Package xfake is an in-process fake of the X (Twitter) API v2, served over
// net/http/httptest. End-to-end tests and `carebridge demo` point the X
// adapter at Server.URL() instead of https://api.x.com.
//
// Seed the world with AddUser, AddTweet and AddDM; inspect what the client
// did with SentTweets, SentDMs, Requests, Tweet, StreamRules and
// StreamConnected; inject faults with SetRateLimit, FailNext,
// DropAnswerNext and HoldAnswerNext (the request takes effect, its answer
// is lost or late), DisconnectStream and StallStream; control time with
// SetNow.
//
// Authentication: reads accept the app-only Bearer token (WithAppToken,
// default DefaultAppToken) or user context; POST /2/tweets, DMs and
// /2/users/me need user context, registered with WithUserToken (OAuth 2.0
// Bearer) or WithOAuth1 (OAuth 1.0a, signatures verified); the filtered stream and its
// rules need the app-only token.
//
// # Endpoints
//
//	GET  /2/tweets/search/recent                     search (7 days)
//	GET  /2/tweets/:id, GET /2/tweets?ids=           lookup
//	POST /2/tweets                                   create, reply, quote
//	GET  /2/users/me, /2/users/:id, /2/users/by/username/:username
//	GET  /2/users/:id/mentions, /2/users/:id/tweets  timelines
//	GET  /2/dm_events, /2/dm_conversations/with/:pid/dm_events, /2/dm_conversations/:id/dm_events
//	POST /2/dm_conversations/with/:pid/messages, /2/dm_conversations/:id/messages
//	GET/POST /2/tweets/search/stream/rules, GET /2/tweets/search/stream
//
// # Faithful
//
//   - Wire shapes of the recorded fixtures (shared/data/fixtures/x): data,
//     includes.users/tweets, meta with newest_id/oldest_id/result_count/
//     next_token (absent on the last page), DM meta with next_token/
//     previous_token, rules meta with sent and summary. An empty list is
//     exactly {"meta":{"result_count":0}}. Default tweet fields are id, text,
//     edit_history_tweet_ids; tweet.fields, user.fields, dm_event.fields and
//     expansions select more, and unknown values are refused like X does.
//   - Errors are RFC 7807 problem bodies with X's titles, types and details:
//     401 Unauthorized, 403 Unsupported Authentication (app-only token on
//     user-context endpoints and the reverse for the stream), 400 Invalid
//     Request with an errors[] entry naming the parameter, the stale since_id
//     400 (cursor older than 7 days), 429 Too Many Requests, duplicate-content
//     403, the 2026 not-authorized-for-resource 403 for replies/quotes to
//     posts that did not mention or quote the account (unless WithEnterprise),
//     the reply_settings 403 "Reply to this conversation is not allowed"
//     (Tweet.ReplySettings mentionedUsers or following, on the post or its
//     conversation's first post; Enterprise apps too),
//     partial "Not Found Error" entries in a 200 for missing ids, stream 429
//     TooManyConnections and the in-stream operational-disconnect message.
//   - Rate limits at X's published figures by default (defaultLimits:
//     15-minute windows, one per endpoint for the app-only token and one
//     per endpoint and user for user context, e.g. 450/300 searches, 100
//     posts per user, 10,000 posts per app per 24 hours), 429 Too Many
//     Requests beyond them, and x-rate-limit-limit/-remaining/-reset (Unix
//     seconds) on every authenticated response (not on 401s), in fixed
//     windows on the injected clock; POST /2/tweets also carries
//     x-app-limit-24hour-*. A test that loosens a limit (SetRateLimit)
//     should say why.
//   - Snowflake ids: created_ms = (id>>22) + 1288834974657, so ids grow with
//     time; since_id/until_id are exclusive; pages go newest first and
//     stitching pages covers every result exactly once.
//   - Search grammar subset: words (case-insensitive, whole words), "quoted
//     phrases", implicit AND, OR (AND binds tighter), -negation, parentheses,
//     @user, #tag, from:, to:, lang:, conversation_id:, in_reply_to_tweet_id:,
//     is:reply|retweet|quote, has:mentions|hashtags|links. Other operators are
//     refused with "Reference to invalid operator '...'", and is:/has:/lang:
//     alone with "is/has/lang cannot be used as a standalone operator".
//   - Filtered stream: NDJSON lines ending in "\r\n" with data, includes and
//     matching_rules[{id,tag}], "\r\n" keep-alives (WithKeepAlive; 20 s by
//     default), 409 without rules, one connection at a time, backfill_minutes.
//   - A reply is stored as X stores it: the replied-to author's @handle,
//     then the handles leading the replied-to post (the thread's other
//     participants; exclude_reply_user_ids leaves those out), in front of
//     the text sent, so search, mentions, the stream and timelines return
//     "@kim Thanks" for "Thanks" (reference §1.2; every recorded reply has
//     it). Handles the text already begins with are not repeated (an
//     assumption). Duplicate detection compares the stored text.
//   - Weighted post length (280): twitter-text v3 weights (CJK and emoji 2,
//     URLs 23), leading @mentions of a reply not counted.
//
// # Simplified
//
//   - No monthly post cap, no per-app 24-hour DM cap.
//   - OAuth 1.0a: signatures and nonce reuse are checked (see WithOAuth1),
//     timestamps are not compared with the clock.
//   - OAuth 2.0 with PKCE (oauth2.go, WithOAuth2Client): GET
//     /i/oauth2/authorize approves at once as the client's signed-in user
//     (no consent page); the token endpoint checks the client, the code
//     (once, 30 s), redirect_uri and the code_verifier, and rotates
//     single-use refresh tokens. Access tokens do not expire on the fake.
//   - Keyword matching is a token match without stemming, accent folding
//     or stop words; terms containing CJK characters match by substring.
//     Bare domains are not recognised as URLs; text is not NFC-normalised.
//   - Search has no 30-second end_time default lag and no relevancy order;
//     sort_order is accepted and ignored.
//   - No media, polls, places, group DMs, edits, deletes, likes, metrics
//     (public_metrics are zeros) or context annotations; lang is guessed
//     from the script unless seeded.
//   - A new stream connection waits up to 500 ms for the previous one to
//     close before answering 429, so reconnect tests do not race socket
//     teardown.
//   - Bodies X's documentation does not pin down are assumptions, marked
//     as such in problems.go, write.go and stream.go: over-length post 400,
//     DM-refused 403, 409 no-rules body, rule-deletion errors.
package xfake
