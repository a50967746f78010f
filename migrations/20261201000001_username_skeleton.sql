-- The Unicode TS #39 confusable skeleton of each username_key: `user1`, `userl` and `uѕer1`
-- (a Cyrillic ѕ) share one, so only the first can be registered. Computed by the app (it
-- needs Unicode's confusables data); rows older than this column get theirs at start.
ALTER TABLE users ADD COLUMN username_skeleton TEXT;
CREATE UNIQUE INDEX users_username_skeleton ON users (username_skeleton);
