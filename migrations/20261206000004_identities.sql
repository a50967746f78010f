-- Sign-in through OpenID Connect providers: which provider account (its `sub`) belongs to
-- which account here. A provider's identity is linked to one account at most, and never
-- by a matching email address alone.
CREATE TABLE identities (
    provider     TEXT NOT NULL,           -- the configured id, such as 'google'
    subject      TEXT NOT NULL,           -- the provider's `sub`: stable, never reassigned
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email        TEXT,                    -- as the provider last said, for the security page
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX identities_user ON identities (user_id);
