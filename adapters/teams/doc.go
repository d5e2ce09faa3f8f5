// Package teams is carebridge's Microsoft Teams chat surface: a Bot
// Framework (Bot Connector REST v3) client of its own, since Microsoft
// ships no Go SDK.
//
// Outbound (Client, Publisher): a client-credentials token for the bot's
// own tenant (single-tenant bots are the only kind that can still be
// created), cached until five minutes before it expires, shared by
// concurrent callers, and dropped and fetched once more when the
// connector answers 401. The token source is our own forty lines rather
// than golang.org/x/oauth2/clientcredentials: oauth2 cannot be told to
// forget a token the connector refused, and it reads time.Now where the
// rest of carebridge reads bridge.Clock. Each ticket opens a new thread in
// its department's channel (POST /v3/conversations with the channel and
// the tenant); later posts, notices and draft cards go into that thread;
// FYI copies and reports are new posts. Every failure is a
// *bridge.SendError: 429, 412, 502, 504 and other 5xx are temporary (with
// the Retry-After the connector sent), 400 BadSyntax, 413
// MessageSizeTooBig, 401 after the retry, 403 and 404 are permanent.
//
// Ids: ChatRef.Channel is the channel id ("19:…@thread.tacv2"); ChatRef.TS
// is an activity id — for a thread, its root activity's id, so a thread's
// conversation id is Channel+";messageid="+TS, which is how Teams names
// it in inbound activities.
//
// Rendering: what Slack shows (platform, author, the customer's history,
// matched keywords, reply eligibility, a link). Posts, FYI copies,
// reports and draft cards are Adaptive Cards in which every outside text
// (a customer's post, a name, a keyword, a draft) is a TextRun: plain text
// that Teams neither reads as markdown nor as HTML, so it cannot format,
// link or mention. Notices are text messages (textFormat xml) translated
// from the core's markup: <@ID> becomes an <at>Name</at> mention with its
// entity, a group a tag mention (type "tag") when it is a configured Teams
// tag and a plain name otherwise, :shortcodes: Unicode emoji, *bold* <b>;
// everything else is escaped (EscapeText). Hidden bidirectional controls
// and zero-width characters are shown as [U+202E]. A bot cannot add
// reactions to people's messages, so React is a documented no-op and
// DraftMarks is empty: the draft card shows where a draft stands.
//
// Approval: a draft is echoed as a card with Approve, Send as DM and
// Reject. The buttons are Action.Submit, which a channel delivers as a
// message activity with value (the button's data) and replyToId (the
// card); the Handler also accepts Action.Execute's invoke
// adaptiveCard/action and answers it in the documented invoke response
// shape. A button becomes the ChatEvent of a reaction: EventReactionAdded
// on the card (ItemTS) with the gesture configured for that button, so a
// click and a reaction on the card (like, by default, approves) take one
// path through the core. Action and Value are also set (the button's
// action, the draft id).
//
// Bundles (bundle.go, bridge.BundleRenderer): while a channel's queue is
// too deep for its pace, a MessageBundle is one card listing its posts,
// each with its author, text, link, matched keywords, reply eligibility
// and an Answer button (Action.Submit, data {"carebridge": "answer",
// "value": the entry's value}) in an ActionSet under it; the Handler
// turns that button into bridge.EventAction "answer" on the card, by the
// clicker's aadObjectId. Texts are cut so that the card fits in one
// message; the largest bundles use a compact layout (name linking to the
// post, an excerpt, keywords and eligibility, the button). No entry is
// ever dropped. The channel's traffic status (MessageStatus) is a notice
// -style text message rewritten in place by Update.
//
// Inbound (Handler): every request's JWT is validated before anything
// else is read or done: RS256 only (no none, no HMAC), a key from the
// JWKS of the issuer's OpenID metadata, the activity's channel in that
// key's endorsements, issuer (Bot Framework's, and through configuration
// the tenant's Entra ID v2 issuers), aud = the app id, exp and nbf with
// five minutes of skew, and the serviceurl claim equal to the activity's
// serviceUrl. Tokens are parsed with github.com/golang-jwt/jwt/v5. The
// JWKS is fetched and cached by this package (keys.go) and each key parsed
// with github.com/MicahParks/jwkset: keyfunc/v3 (built on jwkset) would
// fetch and refresh the set, but it drops the non-standard "endorsements"
// member that the channel check needs, and fetching the set twice (once
// for keyfunc, once for endorsements) could pair a key with another
// fetch's endorsements. The cache is refreshed daily and on an unknown
// kid, at most once a minute, so a stream of forged kids cannot make us
// fetch on every request. A missing or bad token is 401, a valid token
// for someone else (audience, serviceurl, endorsement) 403, a body over
// the limit 413, malformed JSON 400; only then is the core called, and the
// answer is 200 only when it returned nil (else 500, so Teams may retry).
//
// Not implemented: bridge.MessageFinder and bridge.PostedLister. The Bot
// Connector cannot read a channel's messages (that needs Microsoft Graph),
// so a message whose send was cut short by a crash is posted again.
package teams
