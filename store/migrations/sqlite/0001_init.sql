-- carebridge schema, version 1, SQLite.
--
-- Times are TEXT in UTC, fixed-width RFC 3339 with microseconds
-- ('2026-03-01T09:00:00.123456Z'), so text order is time order; NULL is the
-- zero time. String lists are JSON text arrays. Raw JSON, payloads and audit
-- details are TEXT, kept byte for byte. Optional references are NULL when
-- unset.

CREATE TABLE posts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    platform         TEXT NOT NULL,
    external_id      TEXT NOT NULL,
    source           TEXT NOT NULL DEFAULT '',
    author_id        TEXT NOT NULL DEFAULT '',
    author_handle    TEXT NOT NULL DEFAULT '',
    author_name      TEXT NOT NULL DEFAULT '',
    text             TEXT NOT NULL DEFAULT '',
    lang             TEXT NOT NULL DEFAULT '',
    created_at       TEXT,
    received_at      TEXT,
    url              TEXT NOT NULL DEFAULT '',
    conversation_key TEXT NOT NULL DEFAULT '',
    in_reply_to      TEXT NOT NULL DEFAULT '',
    mentions         TEXT NOT NULL DEFAULT '[]',
    eligibility      TEXT NOT NULL DEFAULT '',
    raw              TEXT NOT NULL DEFAULT '',
    UNIQUE (platform, external_id)
);
CREATE INDEX posts_conversation ON posts (platform, conversation_key);

CREATE TABLE customers (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    platform        TEXT NOT NULL,
    author_id       TEXT NOT NULL,
    handle          TEXT NOT NULL DEFAULT '',
    name            TEXT NOT NULL DEFAULT '',
    first_seen      TEXT,
    last_seen       TEXT,
    ticket_count    INTEGER NOT NULL DEFAULT 0,
    last_department TEXT NOT NULL DEFAULT '',
    last_ticket_at  TEXT,
    UNIQUE (platform, author_id)
);

CREATE TABLE tickets (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    platform          TEXT NOT NULL,
    conversation_key  TEXT NOT NULL,
    department        TEXT NOT NULL DEFAULT '',
    fyi               TEXT NOT NULL DEFAULT '[]',
    matched           TEXT NOT NULL DEFAULT '[]',
    tags              TEXT NOT NULL DEFAULT '[]',
    state             TEXT NOT NULL,
    customer_id       INTEGER REFERENCES customers (id),
    root_post_id      INTEGER REFERENCES posts (id),
    account           TEXT NOT NULL DEFAULT '',
    slack_channel     TEXT NOT NULL DEFAULT '',
    slack_ts          TEXT NOT NULL DEFAULT '',
    created_at        TEXT,
    updated_at        TEXT,
    last_customer_at  TEXT,
    first_response_at TEXT,
    answered_at       TEXT,
    closed_at         TEXT,
    UNIQUE (platform, conversation_key)
);
CREATE INDEX tickets_thread ON tickets (slack_channel, slack_ts);
CREATE INDEX tickets_customer ON tickets (customer_id, created_at);

CREATE TABLE mirrors (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    post_id    INTEGER NOT NULL REFERENCES posts (id),
    ticket_id  INTEGER REFERENCES tickets (id),
    department TEXT NOT NULL DEFAULT '',
    role       TEXT NOT NULL DEFAULT '',
    channel    TEXT NOT NULL,
    ts         TEXT NOT NULL,
    thread_ts  TEXT NOT NULL DEFAULT '',
    created_at TEXT,
    UNIQUE (channel, ts)
);
CREATE INDEX mirrors_post ON mirrors (post_id, id);
CREATE INDEX mirrors_ticket ON mirrors (ticket_id, id);

CREATE TABLE drafts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id    INTEGER NOT NULL REFERENCES tickets (id),
    channel      TEXT NOT NULL,
    ts           TEXT NOT NULL,
    author       TEXT NOT NULL DEFAULT '',
    text         TEXT NOT NULL DEFAULT '',
    visibility   TEXT NOT NULL DEFAULT '',
    state        TEXT NOT NULL,
    guard_reason TEXT NOT NULL DEFAULT '',
    approved_by  TEXT NOT NULL DEFAULT '',
    sent_id      TEXT NOT NULL DEFAULT '',
    sent_url     TEXT NOT NULL DEFAULT '',
    error        TEXT NOT NULL DEFAULT '',
    created_at   TEXT,
    updated_at   TEXT,
    sent_at      TEXT,
    UNIQUE (channel, ts)
);
CREATE INDEX drafts_ticket ON drafts (ticket_id, id);

CREATE TABLE approvals (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    draft_id   INTEGER NOT NULL REFERENCES drafts (id),
    user_id    TEXT NOT NULL DEFAULT '',
    emoji      TEXT NOT NULL DEFAULT '',
    decision   TEXT NOT NULL,
    created_at TEXT
);
CREATE INDEX approvals_draft ON approvals (draft_id, id);

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL,
    priority        INTEGER NOT NULL DEFAULT 1,
    lane            TEXT NOT NULL DEFAULT '',
    order_key       TEXT NOT NULL DEFAULT '',
    dedupe_key      TEXT NOT NULL DEFAULT '',
    ticket_id       INTEGER REFERENCES tickets (id),
    payload         TEXT NOT NULL DEFAULT '',
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'sending', 'done', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    last_error      TEXT NOT NULL DEFAULT '',
    claimed_by      TEXT NOT NULL DEFAULT '',
    claimed_until   TEXT,
    recovered       INTEGER NOT NULL DEFAULT 0, -- this claim took over an expired lease
    created_at      TEXT,
    updated_at      TEXT
);
CREATE INDEX outbox_claim ON outbox (state, next_attempt_at);
-- Only unfinished rows hold back later rows of their order key.
CREATE INDEX outbox_order ON outbox (order_key, id) WHERE state IN ('pending', 'sending');
CREATE UNIQUE INDEX outbox_dedupe ON outbox (dedupe_key) WHERE dedupe_key <> '';
CREATE INDEX outbox_ticket ON outbox (ticket_id);

CREATE TABLE poll_cursors (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT
);

CREATE TABLE seen_events (
    namespace TEXT NOT NULL,
    event_id  TEXT NOT NULL,
    seen_at   TEXT,
    PRIMARY KEY (namespace, event_id)
);
CREATE INDEX seen_events_seen_at ON seen_events (seen_at);

-- Append-only and hash-chained: hash covers every other column and
-- prev_hash, over the exact bytes of details (so TEXT, never JSON).
CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    kind       TEXT NOT NULL,
    actor      TEXT NOT NULL DEFAULT '',
    department TEXT NOT NULL DEFAULT '',
    ticket_id  INTEGER NOT NULL DEFAULT 0,
    draft_id   INTEGER NOT NULL DEFAULT 0,
    details    TEXT NOT NULL DEFAULT '',
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_department ON audit_log (department, seq);
