-- An outbox row whose outcome is unknown (an earlier attempt may have
-- reached the platform: a worker died or stalled past its lease) keeps
-- unknown_at until a check on the platform settles it. Before, the claim
-- that took over an expired lease only set recovered for itself: when that
-- check failed (Slack's history limit for unlisted apps answers 429), the
-- row went back as an ordinary retry and the next claim sent it unchecked.
-- unknown_at is when the outcome became unknown: every attempt that may
-- have reached the platform happened before it.
ALTER TABLE outbox ADD COLUMN unknown_at TEXT;
