// Package feed listens to blogs and forums through their RSS 2.0, RSS 1.0,
// Atom 1.0 and JSON Feed documents: a listen-only network. Its Source
// polls each configured feed politely (conditional GET, one request at a
// time per host with at least a second between them, the longest of the
// interval, <ttl>, Cache-Control max-age, Expires and Retry-After before
// the next check), turns new items into posts with their HTML made plain
// text, and saves each feed's state in the same transaction as its items.
// Its Network tells staff to answer on the site: there is no Replier.
//
// feedfake is an in-process fake of feed servers for the tests and the
// demo.
package feed
