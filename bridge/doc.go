// Package bridge is carebridge's core: the domain types (posts, tickets,
// drafts, audit records), the small ports that adapters and stores
// implement (Source, Publisher, Replier, Store), and the Service that runs
// the core loop — ingest, route, mirror, draft, approve, send — through a
// durable outbox.
//
// Nothing in this package imports an adapter, a store, a platform SDK or a
// database driver. Adapters live under adapters/, stores under store/, and
// the only place they meet is cmd/carebridge.
package bridge
