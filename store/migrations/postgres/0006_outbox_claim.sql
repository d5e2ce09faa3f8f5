-- The outbox claim as one function, so that a claim is one statement in
-- one round trip instead of BEGIN, SET LOCAL, UPDATE and COMMIT. It is
-- PL/pgSQL so that each connection plans it once (a LANGUAGE sql function
-- is planned again at every call, which cost more than the round trips). The
-- function's own setting enable_sort = off makes the planner walk
-- outbox_due in (priority, id) order and stop at the limit even when its
-- statistics lag behind the backlog (a young or fast-growing table), where
-- it would otherwise read and sort every unfinished row. The semantics are
-- those of Store.ClaimOutbox (store/outbox.go), which SQLite runs as a
-- plain UPDATE.
CREATE FUNCTION carebridge_claim_outbox(p_owner TEXT, p_until TIMESTAMPTZ, p_now TIMESTAMPTZ,
    p_kinds TEXT[], p_skip_lanes TEXT[], p_limit INTEGER)
RETURNS SETOF outbox
LANGUAGE plpgsql
SET enable_sort = off
AS $$
BEGIN
    RETURN QUERY
    UPDATE outbox
    SET state = 'sending', attempts = outbox.attempts + 1, recovered = (outbox.state = 'sending'),
        claimed_by = p_owner, claimed_until = p_until, updated_at = p_now
    WHERE outbox.id IN (
        SELECT o.id FROM outbox o
        WHERE o.state IN ('pending', 'sending')
            AND ((o.state = 'pending' AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= p_now))
                OR (o.state = 'sending' AND (o.claimed_until IS NULL OR o.claimed_until <= p_now)))
            AND (cardinality(p_kinds) = 0 OR o.kind = ANY (p_kinds))
            AND NOT (o.lane = ANY (p_skip_lanes))
            AND NOT EXISTS (
                SELECT 1 FROM outbox e
                WHERE o.order_key <> '' AND e.order_key = o.order_key AND e.id < o.id
                    AND e.state IN ('pending', 'sending'))
        ORDER BY o.priority, o.id
        LIMIT p_limit
        FOR UPDATE SKIP LOCKED)
    RETURNING outbox.*;
END
$$;

-- Fewer index entries per outbox row. Every change of a row's state writes
-- a new entry into each of its indexes (the state is indexed, so no update
-- is HOT): outbox_claim (state, next_attempt_at) took one at every step
-- although the claim walks outbox_due, and outbox_ticket one although no
-- query looks rows up by ticket. The backlog figures (OutboxStats) read
-- outbox_open, which holds only the rows not done: a done row leaves it.
DROP INDEX outbox_claim;
DROP INDEX outbox_ticket;
CREATE INDEX outbox_open ON outbox (kind) WHERE state IN ('pending', 'sending', 'dead');
