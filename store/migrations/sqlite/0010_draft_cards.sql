-- A draft card is carebridge's own copy of a draft, posted in the thread
-- on chat surfaces where approvers can act only on the bot's messages
-- (Teams). A reaction or button on the card acts on its draft, so the
-- card's chat message is kept against the draft, and found by it.
CREATE TABLE draft_cards (
    draft_id INTEGER PRIMARY KEY REFERENCES drafts (id),
    channel  TEXT NOT NULL,
    ts       TEXT NOT NULL
);
CREATE UNIQUE INDEX draft_cards_message ON draft_cards (channel, ts);
