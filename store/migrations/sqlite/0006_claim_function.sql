-- PostgreSQL's 0006 turns the outbox claim into a function (one round trip
-- per claim). SQLite runs the claim as a plain UPDATE in-process, so there
-- is nothing to change; this file keeps the two dialects' versions in step.
SELECT 1;
