-- Drafts remember what they answer, as whom, and to whom (for DMs), and
-- when they were approved.
ALTER TABLE drafts ADD COLUMN reply_to    BIGINT REFERENCES posts (id);
ALTER TABLE drafts ADD COLUMN account     TEXT NOT NULL DEFAULT '';
ALTER TABLE drafts ADD COLUMN recipient   TEXT NOT NULL DEFAULT '';
ALTER TABLE drafts ADD COLUMN approved_at TIMESTAMPTZ;
