// Package bridge is carebridge's core: the domain types (posts, tickets,
// drafts, audit records), the small ports that adapters and stores
// implement (Source, Network, Publisher, ChatActions, Replier, Poster,
// Store and each part's transaction port), and the Service that runs the
// core loop through a durable outbox. The Service is three parts with one
// job each: ingest (sources → tickets → outbox, ingest.go), the relay
// (outbox → chat surface and platforms, relay.go, mirror.go, sender.go)
// and approvals (chat events → drafts → guards → approvals → sends,
// approvals.go, inbox.go). Every outbox kind is in outboxkinds.go.
//
// Nothing in this package imports an adapter, a store, a platform SDK or a
// database driver, or knows a platform's rules: each network registers its
// rules (Network) and adapters, and the chat surface its gestures, marks
// and capabilities, in cmd/carebridge/platforms.go.
package bridge
