-- An outbox row whose outcome is unknown (an earlier attempt may have
-- reached the platform: a worker died or stalled past its lease) keeps
-- unknown_at until a check on the platform settles it. Before, the claim
-- that took over an expired lease only set recovered for itself: when that
-- check failed (Slack's history limit for unlisted apps answers 429), the
-- row went back as an ordinary retry and the next claim sent it unchecked.
-- unknown_at is when the outcome became unknown: every attempt that may
-- have reached the platform happened before it.
ALTER TABLE outbox ADD COLUMN unknown_at TIMESTAMPTZ;

-- The claim of 0006, which now sets unknown_at when it takes over an
-- expired lease and reports recovered while unknown_at is set. The
-- semantics are those of Store.ClaimOutbox (store/outbox.go).
CREATE OR REPLACE FUNCTION carebridge_claim_outbox(p_owner TEXT, p_until TIMESTAMPTZ, p_now TIMESTAMPTZ,
    p_kinds TEXT[], p_skip_lanes TEXT[], p_limit INTEGER)
RETURNS SETOF outbox
LANGUAGE plpgsql
SET enable_sort = off
AS $$
BEGIN
    RETURN QUERY
    UPDATE outbox
    SET state = 'sending', attempts = outbox.attempts + 1,
        unknown_at = CASE WHEN outbox.state = 'sending' THEN p_now ELSE outbox.unknown_at END,
        recovered = (outbox.state = 'sending' OR outbox.unknown_at IS NOT NULL),
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
