// Package bskyfake is an in-process fake of the parts of Bluesky that
// carebridge talks to, faithful to their wire formats, errors and limits
// by default: a PDS (com.atproto.server.createSession with its sign-in
// limit, refreshSession, access tokens that expire into 400 ExpiredToken,
// createRecord with record validation and the HTTP 500 of a record key
// used twice, getRecord, the write-points budget), the AppView calls a PDS
// forwards (getPosts with viewer.replyDisabled, listNotifications with
// reasons and cursors), the chat service behind the Atproto-Proxy header
// (getConvoForMembers with MessagesDisabled and NotFollowedBySender,
// sendMessage, getMessages), 429s with ratelimit-* headers, and Jetstream
// instances (websocket /subscribe with wantedCollections/wantedDids, the
// microsecond cursor clamped to 36 hours, identity and account events
// regardless of the collection filter, deletes without a record,
// disconnects and a silent mode that keeps the socket open and sends
// nothing).
//
// Where Bluesky's behaviour is not documented, the fake says which
// reading it takes (see Server.RefuseGatedReplies).
package bskyfake
