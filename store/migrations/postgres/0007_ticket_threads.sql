-- A ticket's chat thread (the parent message in Slack) moves out of the
-- tickets table into a table of its own. The relay writes it once the
-- parent is posted; ingest updates the ticket for every follow-up. As
-- columns of tickets, every thread the relay recorded waited for the row
-- lock of any ingest transaction touching that ticket, and rewrote the
-- ticket row in all six of its indexes.
CREATE TABLE ticket_threads (
    ticket_id BIGINT PRIMARY KEY REFERENCES tickets (id),
    channel   TEXT NOT NULL,
    ts        TEXT NOT NULL
);
CREATE INDEX ticket_threads_thread ON ticket_threads (channel, ts);
INSERT INTO ticket_threads (ticket_id, channel, ts)
    SELECT id, slack_channel, slack_ts FROM tickets WHERE slack_ts <> '';
DROP INDEX tickets_thread;
ALTER TABLE tickets DROP COLUMN slack_channel;
ALTER TABLE tickets DROP COLUMN slack_ts;
