-- Passkeys (WebAuthn): the credentials people sign in with, and the short-lived state of a
-- ceremony in progress, kept here (not in process memory) so any instance can finish what
-- another began.

-- A registered passkey. `credential` is webauthn-rs's `Passkey` as JSON: the public key, the
-- signature counter and the flags it was registered with. No secret is stored.
CREATE TABLE passkeys (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL UNIQUE,   -- base64url, as the browser presents it
    name          TEXT NOT NULL,
    credential    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX passkeys_user ON passkeys (user_id);

-- An exchange of two requests begun (a passkey registration or sign-in, a sign-in through
-- an OpenID provider): what finishing it needs (for a passkey, webauthn-rs's state as
-- JSON), found by the SHA-256 of the token the client holds, usable once.
CREATE TABLE ceremonies (
    token_hash TEXT PRIMARY KEY,
    purpose    TEXT NOT NULL,             -- see store/ceremonies.rs
    user_id    TEXT REFERENCES users (id) ON DELETE CASCADE,  -- when begun by a signed-in user
    state      TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
