-- Watching the work: SLA warnings and breaches (one row per ticket, clock
-- and level, with the instant it was due), spike alerts, digests and
-- greetings, each recorded once under a unique key. Indexes for the
-- per-department volume counts and the scans over open tickets.
CREATE TABLE ops_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL,
    event_key  TEXT NOT NULL UNIQUE,
    department TEXT NOT NULL DEFAULT '',
    ticket_id  INTEGER NOT NULL DEFAULT 0,
    at         TEXT NOT NULL,
    due_at     TEXT,
    details    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX ops_events_kind ON ops_events (kind, department, at);
CREATE INDEX ops_events_ticket ON ops_events (ticket_id);
CREATE INDEX tickets_department_created ON tickets (department, created_at);
CREATE INDEX tickets_state_updated ON tickets (state, updated_at);
