// Package watch is carebridge's watching: SLA warnings and breaches,
// department digests, the executive digest, spike alerts, the opening
// greeting and closing sign-off, and closing silent tickets.
//
// The package has two halves, kept apart by file:
//
//   - The arithmetic, pure (no I/O, no goroutines, no clock reads; time is
//     always passed in, so tests never sleep): the business-hours
//     calendar (calendar.go: Calendar, ParseHHMM), SLA clocks
//     (slaclock.go: SLAFor, SLAState.LevelAt, ClockStartsText), digest
//     figures (digestfigures.go: ComputeDigest, ComputeExecDigest,
//     Representative) and spike figures (spikefigures.go: DetectSpike,
//     ShouldAlert, BaselineWindows).
//   - The jobs, the Watcher's methods (watcher.go, *job.go): each reads the
//     store through Tx, the port this package owns, computes with the
//     arithmetic, and acts only through outbox rows written in the same
//     transaction as an ops event keyed so that a job run twice — after a
//     restart, or on a second replica — sends nothing twice. They are plain
//     functions of "now" (the injected bridge.Clock); the composition root
//     runs them on a schedule (adapters/schedule: gocron, on the elected
//     leader), and tests call them directly.
//
// # Time zones and daylight saving
//
// Office hours, holidays and the spike baseline's days are wall-clock
// values in one location. Every day's instants are computed with time.Date
// for that day, never by adding 24 hours, so a day is 23 or 25 hours long
// across a daylight-saving change and nothing drifts by an hour. A wall
// time that does not exist (it falls in a spring-forward gap, such as an
// opening at 02:30 on 2026-03-08 in America/New_York) resolves to the first
// instant after the gap (03:00 EDT); a wall time that exists twice (01:30
// on 2026-11-01 in America/New_York) resolves to its first occurrence
// (01:30 EDT) only.
//
// The times of day of the digests, greetings and sign-offs are not
// computed here: gocron runs those jobs (adapters/schedule), and a time
// inside the gap runs where Go's time.Date puts it, an hour before the gap
// (02:30 → 01:30 EST), once that day.
package watch
