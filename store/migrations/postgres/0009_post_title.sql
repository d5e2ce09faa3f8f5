-- A post's headline, for items that have one (a blog post or a forum
-- thread read through its feed); '' for posts without (X).
ALTER TABLE posts ADD COLUMN title TEXT NOT NULL DEFAULT '';
