// Package ops holds the arithmetic behind carebridge's watching features:
// business hours (Calendar), SLA clocks (SLAFor, Evaluate), department and
// executive digests (Digest, ExecDigest, Representative), spike detection
// (DetectSpike, ShouldAlert, BaselineWindows) and daily schedules
// (ParseHHMM, NextDaily).
//
// Everything here is pure: no I/O, no goroutines, no clock reads. Time is
// always passed in, so callers (the store queries and the gocron jobs wired
// in cmd/carebridge) decide what "now" is and tests never sleep.
//
// # Time zones and daylight saving
//
// Office hours, holidays and schedule times are wall-clock values in one
// location. Every day's instants are computed with time.Date for that day,
// never by adding 24 hours, so a day is 23 or 25 hours long across a
// daylight-saving change and nothing drifts by an hour. A wall time that
// does not exist (it falls in a spring-forward gap, such as 02:30 on
// 2026-03-08 in America/New_York) resolves to the first instant after the
// gap (03:00 EDT); a wall time that exists twice (01:30 on 2026-11-01 in
// America/New_York) resolves to its first occurrence (01:30 EDT) only.
package ops
