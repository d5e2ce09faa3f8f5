-- A ticket's chat thread (the parent message in Slack) moves out of the
-- tickets table into a table of its own. The relay writes it once the
-- parent is posted; ingest updates the ticket for every follow-up. As
-- columns of tickets, every thread the relay recorded waited for the row
-- lock of any ingest transaction touching that ticket, and rewrote the
-- ticket row in all six of its indexes.
--
-- The relay's tables do not declare their reference to tickets (SQLite's
-- do: it has no row locks). Every foreign-key check takes a FOR KEY SHARE
-- lock on the ticket row, and with the relay recording mirrors and threads
-- and ingest queueing messages for the same tickets at once, those shared
-- locks became multixacts: about an eighth of the database's CPU in the
-- end-to-end benchmark. Tickets are never deleted, and these rows are
-- written only for tickets carebridge has just created or read (a thread
-- is inserted by joining tickets, so a missing ticket still fails the
-- call).
CREATE TABLE ticket_threads (
    ticket_id BIGINT PRIMARY KEY,
    channel   TEXT NOT NULL,
    ts        TEXT NOT NULL
);
CREATE INDEX ticket_threads_thread ON ticket_threads (channel, ts);
INSERT INTO ticket_threads (ticket_id, channel, ts)
    SELECT id, slack_channel, slack_ts FROM tickets WHERE slack_ts <> '';
DROP INDEX tickets_thread;
ALTER TABLE tickets DROP COLUMN slack_channel;
ALTER TABLE tickets DROP COLUMN slack_ts;
-- outbox and mirrors: see above.
ALTER TABLE outbox DROP CONSTRAINT outbox_ticket_id_fkey;
ALTER TABLE mirrors DROP CONSTRAINT mirrors_ticket_id_fkey;
