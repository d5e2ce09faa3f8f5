-- The durable inbox: chat events (Slack) stored on receipt and acknowledged
-- at once, then applied by a worker in the transaction that marks them done.
-- event_id is the platform's event id (unique when set); order_key is
-- channel/thread: a row is not processed while an earlier unfinished row
-- of its key exists.
CREATE TABLE inbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT NOT NULL DEFAULT '',
    order_key       TEXT NOT NULL DEFAULT '',
    event           TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'done', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    last_error      TEXT NOT NULL DEFAULT '',
    received_at     TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE UNIQUE INDEX inbox_event ON inbox (event_id) WHERE event_id <> '';
CREATE INDEX inbox_due ON inbox (state, next_attempt_at);
CREATE INDEX inbox_order ON inbox (order_key, id) WHERE state = 'pending';
