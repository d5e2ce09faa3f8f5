// Package config loads and validates carebridge's YAML configuration.
//
// Loading is strict, in the manner of Alertmanager: an unknown key is an
// error, and validation reports every problem at once, each naming the
// field path and the line it stands on, for example
//
//	routes[3].department: unknown department "wifii" (line 41)
//
// Secrets are written as ${ENV_VAR} references, or read from a file named
// by the key's *_file twin (bot_token_file for bot_token). They are held in
// the Secret type, which never prints its value.
//
// Two levels of validation exist: LevelRouting needs only departments,
// routes and triage (what `carebridge check` and `carebridge route` use);
// LevelServe also requires what a running service needs — tokens,
// accounts, a valid store URL.
package config
