-- A draft card is carebridge's own copy of a draft, posted in the thread
-- on chat surfaces where approvers can act only on the bot's messages
-- (Teams). A reaction or button on the card acts on its draft, so the
-- card's chat message is kept against the draft, and found by it.
--
-- Like the relay's other tables (0007), it does not declare its reference
-- to drafts: the relay records a card while approvals may hold the draft
-- row, and drafts are never deleted.
CREATE TABLE draft_cards (
    draft_id BIGINT PRIMARY KEY,
    channel  TEXT NOT NULL,
    ts       TEXT NOT NULL
);
CREATE UNIQUE INDEX draft_cards_message ON draft_cards (channel, ts);
