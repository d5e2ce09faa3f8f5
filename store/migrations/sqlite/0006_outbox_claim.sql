-- PostgreSQL's 0006 also turns the outbox claim into a function (one round
-- trip per claim); SQLite runs the claim in-process as a plain UPDATE.
--
-- Fewer index entries per outbox row. Every change of a row's state writes
-- into each index that holds the state: outbox_claim (state,
-- next_attempt_at) took one at every step although the claim walks
-- outbox_due, and outbox_ticket one at insert although no query looks rows
-- up by ticket. The backlog figures (OutboxStats) read outbox_open, which
-- holds only the rows not done: a done row leaves it.
DROP INDEX outbox_claim;
DROP INDEX outbox_ticket;
CREATE INDEX outbox_open ON outbox (kind) WHERE state IN ('pending', 'sending', 'dead');
