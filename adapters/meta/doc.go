// Package meta connects carebridge to Facebook Pages and the Instagram
// professional accounts linked to them, through Meta's webhooks and a
// thin Graph API client of our own (no maintained Go SDK is available).
//
//   - Receiver (webhook.go) serves /meta/webhook: the verification GET,
//     and signed POSTs (X-Hub-Signature-256 over the raw body) whose
//     batched entries it turns into posts (delivery.go) and ingests
//     through the core's Sink in one transaction before answering 200.
//   - Graph (graph.go) calls the Graph API at the pinned version and
//     classifies its errors as *bridge.SendError (190, 10900, 10903, 10,
//     100, 551, the throttling codes 4/17/32/613 paced by
//     X-Business-Use-Case-Usage).
//   - Replier (replier.go) answers: public replies to comments, private
//     replies (once per comment, within 7 days), DMs inside the messaging
//     window, and finds them again after a crash.
//   - Network (network.go) is Meta's rules for the core: the windows, the
//     one private reply, the text limits, the errors in plain words.
//
// Facebook and Instagram are two platforms ("facebook", "instagram"):
// their people have different ids (a Page-scoped id is not an
// Instagram-scoped id), their texts different limits and their
// conversations nothing in common; one Page's configuration serves both.
package meta
