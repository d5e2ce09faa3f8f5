// Package teamsfake is an in-process fake of Microsoft Teams as a bot sees
// it, for tests and `carebridge demo -chat teams`: the Bot Framework's
// OpenID metadata and JWKS, Entra ID's token endpoint, the Bot Connector
// REST API (v3), and an injector that signs activities and posts them to
// the bot's messaging endpoint as the connector does. It is an
// httptest.Server; carebridge's adapters/teams client talks to it
// unchanged:
//
//	fake := teamsfake.New(teamsfake.WithClock(clock))
//	defer fake.Close()
//	id := fake.Identity()
//	client, _ := teams.NewClient(teams.ClientConfig{AppID: id.AppID, TenantID: id.TenantID,
//		ClientSecret: id.ClientSecret, ServiceURL: fake.ServiceURL(), TokenURL: fake.TokenURL(), Clock: clock})
//	fake.SetEndpoint(botServer.URL + "/teams/messages")
//	ana := fake.AddUser("Ana")
//	d, err := fake.UserReplies(ctx, ana, channel, root, "reply: thanks!", false)
//
// # As strict as Teams
//
//   - Inbound tokens: RS256 JWTs with iss https://api.botframework.com, aud
//     the app id, nbf/exp, and the serviceurl claim, signed with a key
//     listed at the metadata's jwks_uri with "endorsements":
//     ["msteams", …]. RotateKeys and AddKey change the JWKS;
//     DeliveryOptions make every bad token a test needs (wrong aud,
//     expired, wrong serviceurl, unknown kid, unendorsed key, alg none,
//     HS256 keyed with the public key, no token, wrong issuer, and Entra
//     ID v2 tokens of the tenant).
//   - The token endpoint (/{tenant}/oauth2/v2.0/token) checks the grant,
//     scope, client id and secret, and answers a wrong tenant with
//     AADSTS700016 as Entra ID does for single-tenant bots; its tokens
//     expire after TokenLifetime on the fake's clock, and the connector
//     answers 401 to an expired or unknown one.
//   - The connector: POST /v3/conversations needs isGroup, the channel in
//     channelData, the tenantId and the activity (else 400 BadSyntax
//     "Incorrect conversation creation parameters") and answers 201
//     {"id":"19:…@thread.tacv2;messageid=<id>","activityId":"<id>"};
//     POST …/{conversation}/activities[/{id}] posts in a thread; PUT and
//     DELETE change only the bot's own messages and need the thread's
//     conversation id for a reply; GET …/members/{id} looks a person up.
//     Ids are 13-digit epoch milliseconds; people are "29:…" with an AAD
//     object id. A message over DefaultMaxMessageBytes (28 KB) gets 413
//     MessageSizeTooBig. Sends are limited per bot per thread (a thread
//     being a channel, as Microsoft defines it: all threads of a channel
//     share the budget) to 7/s, 8/2 s, 60/30 s and 1,800/h: over it, 429
//     with Retry-After (WithoutRetryAfter drops the header, which
//     Microsoft does not promise). FailNext scripts 412, 502, 504 and
//     others.
//   - The injector tells the bot what Teams tells it: messages (HTML text,
//     the bot's mention as <at>Name</at> with its entity), edits
//     (messageUpdate/editMessage), soft deletes
//     (messageDelete/softDeleteMessage), reactions only on the bot's own
//     messages (a reaction on a person's message is recorded and not
//     delivered), card buttons (Action.Submit as a message with value and
//     replyToId; Action.Execute as invoke adaptiveCard/action), the app's
//     installationUpdate, and redelivery of an activity with the same id.
//     Without the RSC permission ChannelMessage.Read.Group (WithRSC(false),
//     SetRSC) only messages that @mention the bot are delivered.
//   - Microsoft Graph (graph.go): a group's transitive user members
//     (GET /v1.0/groups/{id}/transitiveMembers/microsoft.graph.user) and a
//     tag's members (GET /v1.0/teams/{team}/tags/{tag}/members), in pages
//     of $top (default 100, at most 999; SetGraphPageSize caps it) linked
//     by @odata.nextLink. Only tokens issued for
//     https://graph.microsoft.com/.default pass (a Bot Framework token gets
//     401 InvalidAuthenticationToken, and the connector refuses a Graph
//     token); without the application permission GroupMember.Read.All or
//     TeamworkTag.Read.All (SetGraphPermission), 403
//     Authorization_RequestDenied; FailNext("graph", 429, …) throttles.
//
// Readers for tests: Posts, Thread, Messages, Message, Cards (cards in
// their current state; Message.Plain and Message.Buttons), Deliveries,
// Count and TokensIssued.
package teamsfake
