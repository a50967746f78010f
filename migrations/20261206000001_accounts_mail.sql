-- Accounts people can recover: verified, unique addresses; the links mailed to them; the
-- outbox that sends mail; and when a session last proved its password.

-- The address as compared: trimmed and lowercased by the app. Unique, so one address is one
-- account. Rows older than this column get theirs when the server starts, and an address
-- two older accounts share is reported then (in the log) and left to the first of them.
ALTER TABLE profiles ADD COLUMN email_key TEXT;
ALTER TABLE profiles ADD COLUMN email_verified_at BIGINT;
CREATE UNIQUE INDEX profiles_email_key ON profiles (email_key);

-- When the session last proved the password (sign-in or re-authentication). Sensitive
-- changes need it recent; NULL (sessions older than this column) counts as long ago.
ALTER TABLE sessions ADD COLUMN auth_at BIGINT;

-- The tokens of mailed links. Only a SHA-256 of each is kept; the link is single-use, and a
-- newer link of the same purpose for the same user replaces the older.
CREATE TABLE mail_tokens (
    token_hash TEXT PRIMARY KEY,        -- hex SHA-256 of the token in the link
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL,           -- verify_email | change_email | reset_password
    email      TEXT NOT NULL,           -- the address the link went to
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX mail_tokens_user_purpose ON mail_tokens (user_id, purpose);

-- Mail to send, written in the same transaction as the change that causes it and sent by a
-- background task with retries. Each row is claimed by one instance at a time (a lease), so
-- a fleet sends each mail once. The bodies (which may hold a link) are erased once sent.
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,   -- UUIDv7: oldest first
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    text_body       TEXT NOT NULL,
    html_body       TEXT NOT NULL,
    link            TEXT,               -- logged instead of sent when mail goes to files
    created_at      BIGINT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    claimed_until   BIGINT,
    sent_at         BIGINT,
    failed_at       BIGINT,             -- given up on (logged as an error)
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox (sent_at, failed_at, next_attempt_at);

-- Browser and system of every sign-in, per account: a sign-in from one not seen before is
-- mailed to the account's owner.
CREATE TABLE known_devices (
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device        TEXT NOT NULL,        -- "Firefox on Linux"
    first_seen_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, device)
);
