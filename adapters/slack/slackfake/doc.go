// Package slackfake is an in-process fake of Slack for end-to-end tests and
// for `carebridge demo`: a Web API served over net/http/httptest, plus event
// delivery over Socket Mode (WebSocket) or the HTTP Events API. The real
// client talks to it unchanged:
//
//	fake := slackfake.New()
//	defer fake.Close()
//	fake.AddChannel("C0CARE", "care-network", "U0ALICE")
//	id := fake.Identity()
//	api := slack.New(id.BotToken,
//		slack.OptionAPIURL(fake.APIURL()), // fake.URL()+"/api/"
//		slack.OptionAppLevelToken(id.AppToken))
//	sm := socketmode.New(api) // or carebridge's slack.NewSocketMode, built on it
//
// Tests then act as humans (UserPosts, UserEdits, UserDeletes, UserReacts,
// UserUnreacts), inject faults (FailNext, RateLimitStorm, SetOutage,
// Disconnect, DropSockets, Redeliver) and assert what the bot did (Messages, Thread,
// Reactions, Ephemerals, Calls, Events).
//
// # Faithful
//
//   - Wire formats: methods are POST (or GET) /api/<method>; form-encoded,
//     query-string and JSON bodies are accepted the way slack-go sends them
//     (form bodies carry `token`, JSON bodies and GETs use
//     `Authorization: Bearer`). Blocks and metadata arrive as JSON strings
//     in forms and as JSON values in JSON bodies.
//   - Responses: HTTP 200 with {"ok":true,...} or {"ok":false,"error":"..."}
//     (channel_not_found, not_in_channel, invalid_auth, not_authed,
//     already_reacted, no_reaction, message_not_found, cant_update_message,
//     no_such_subteam, user_not_found, user_not_in_channel, no_text,
//     invalid_blocks, unknown_method, ...). Rate limiting is HTTP 429 with
//     `Retry-After: <seconds>` and {"ok":false,"error":"ratelimited"}, which
//     slack-go turns into *slack.RateLimitedError.
//   - Slack's limits by default, on the injected clock: chat.postMessage is
//     paced per channel (token bucket; 1 message/s with a burst of 3; a
//     refused message is not recorded and produces no event), and
//     conversations.history and conversations.replies have the limits of an
//     app not listed in the Marketplace, the app carebridge's README has
//     operators create (each method 1 call a minute, at most 15 messages a
//     call). WithMarketplaceHistory gives a listed app's (Tier 3: 50 calls
//     a minute, pages of up to 1,000). WithRateLimit(false),
//     WithChannelRateLimit and WithUnlimitedHistory loosen them for tests
//     that say why; a fake clock is usually the better way.
//   - Timestamps look like Slack's ("1700000000.000100"), are unique and
//     strictly increasing; thread replies carry thread_ts and parent_user_id.
//   - Events have the Events API envelope of the captured fixtures in
//     shared/data/fixtures/slack (token, team_id, context_team_id,
//     context_enterprise_id, api_app_id, event, type "event_callback",
//     event_id "Ev...", event_time, authorizations, is_ext_shared_channel,
//     event_context). The bot's own posts, edits and reactions come back as
//     events with bot_id/app_id/bot_profile and user = the bot user, as in
//     real Slack, so "ignore our own messages" is exercised. message_changed
//     carries message (original ts, edited{user,ts}) and previous_message;
//     message_deleted carries deleted_ts and previous_message; reactions carry
//     item{type,channel,ts}, user, reaction and item_user. A thread reply is a
//     plain message with thread_ts (no message_replied subtype), as Slack
//     documents for the Events API.
//   - HTTP delivery is signed with the v0 scheme (X-Slack-Request-Timestamp,
//     X-Slack-Signature = "v0="+hex(HMAC-SHA256(secret, "v0:"+ts+":"+body))),
//     must be answered with a 2xx within the ack timeout (3 s by default), and
//     is retried on failure with X-Slack-Retry-Num (1..n) and
//     X-Slack-Retry-Reason (http_error, http_timeout, connection_failed,
//     too_many_redirects); a reply carrying X-Slack-No-Retry: 1 stops the
//     retries. The default retry delays are Slack's (at once, 1 min, 5 min);
//     tests shorten them with WithRetryDelays.
//   - Socket Mode: apps.connections.open needs the app-level (xapp-) token
//     and returns a fresh single-use ws:// URL; the socket sends
//     {"type":"hello",...}, then one `events_api` envelope per event
//     (envelope_id, payload, accepts_response_payload, retry_attempt,
//     retry_reason), WebSocket ping frames (slack-go's watchdog needs them),
//     and `disconnect` messages on request. Envelopes not acked with
//     {"envelope_id":...} within the ack timeout are delivered again with
//     retry_attempt incremented.
//
// # Simplified
//
//   - One workspace, one app, one bot; no OAuth scopes (missing_scope never
//     happens), no chat:write.public (posting where the bot is not a member is
//     always not_in_channel), no Enterprise Grid, no shared channels.
//   - Only the methods listed in the package's method table are implemented
//     (auth.test, chat.postMessage, chat.update, chat.delete,
//     chat.postEphemeral, chat.getPermalink, reactions.add, reactions.remove,
//     usergroups.users.list, conversations.members, conversations.info,
//     users.info, conversations.list, conversations.history,
//     conversations.replies, apps.connections.open,
//     files.getUploadURLExternal, files.completeUploadExternal); others
//     answer unknown_method.
//     Method tiers other than chat.postMessage's per-channel pacing and the
//     history methods' limits, and the workspace-wide caps, are not
//     modelled (use RateLimitStorm).
//   - Text is stored verbatim: no link parsing or re-escaping. When a message
//     has no blocks, events and responses carry a synthesised rich_text block
//     (text, user/channel/user-group mentions, broadcasts and links) like the
//     captured fixtures; Message.Blocks records what the poster sent.
//     reply_broadcast, username/icon overrides and unfurl flags are accepted
//     and ignored; a thread parent does not gain reply_count/latest_reply,
//     and no message_changed is sent for the parent when a reply arrives.
//   - Events are delivered one by one in order of creation (real Slack may
//     reorder); in Socket Mode they wait in a queue while no socket is
//     connected instead of counting as failed deliveries. Retries happen on
//     real timers (not the injected clock). app_rate_limited, url
//     verification on manifest import, attachments, files and interactivity
//     payloads are not produced.
//   - File uploads (files.go): files.getUploadURLExternal reserves an id
//     and an upload URL on the fake's own host (slack-go sends the token
//     only there) for `length` bytes (missing_argument for 0,
//     invalid_arguments without filename or length, alt_txt_too_large
//     past 1,000 characters); the POST to it takes multipart form data or
//     the raw bytes and answers 200 "OK - <n>"; files.completeUploadExternal
//     shares the files in channel_id (or the first of channels), in
//     thread_ts if given, or keeps them private (file_not_found for an
//     unknown, not yet uploaded or already completed file,
//     channel_not_found, not_in_channel). Both methods are Tier 4 (100
//     calls a minute each, 429 with Retry-After, on the injected clock).
//     Files returns what was shared. A shared file is not added to the
//     channel's history and produces no event.
//   - The injected clock drives ts values, event_time, pacing and the
//     signature timestamp. slack.NewSecretsVerifier compares against
//     time.Now, so an injected clock must stay near the wall clock when the
//     receiver verifies signatures with slack-go.
//
// # Not verified against Slack
//
// For uploads: the upload service's answer to a byte count other than the
// reserved length (here 400 and the file stays not uploaded), whether
// completing a reserved but not uploaded file says file_not_found (here it
// does), and the upload URL's lifetime (here until completed).
//
// The retry_reason of a Socket Mode redelivery ("timeout"), whether a
// redelivery reuses the envelope_id (here it does not), the Socket Mode
// retry schedule (here the same as HTTP), the ping interval (here 10 s),
// whether an ack sent on a newer connection counts (here it does: slack-go
// sends acks queued while it reconnects on the new connection), the
// error for a wrong token type (here not_allowed_token_type), Slack's
// treatment of a thread_ts naming no message or a reply (here stored as
// given), whether chat.update and reactions.add accept channel names (here
// only IDs; chat.postMessage and chat.postEphemeral accept names), and
// whether bot posts without blocks always gain rich_text blocks.
package slackfake
