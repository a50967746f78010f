-- Second factors: an authenticator app (TOTP, RFC 6238) with recovery codes, and the
-- short-lived challenge between a password and its second factor.

-- The key that encrypts TOTP secrets and keys the recovery-code hashes: generated on first
-- start and kept beside the signing keys (the data folder is 0700, the file 0600).
CREATE TABLE data_keys (
    kid        TEXT PRIMARY KEY,
    key_b64    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- One authenticator per account. Pending (confirmed_at NULL) until a code proves the user
-- has it; a replaced pending secret is simply overwritten.
CREATE TABLE totp_factors (
    user_id      TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret_box   TEXT NOT NULL,      -- XChaCha20-Poly1305: base64(nonce || ciphertext), AAD user id
    confirmed_at BIGINT,
    last_step    BIGINT NOT NULL,    -- the last accepted 30 s step: no code of it or before again
    created_at   BIGINT NOT NULL
);

-- Ten single-use codes per account, kept as HMAC-SHA256 under the data key.
CREATE TABLE recovery_codes (
    code_hash TEXT PRIMARY KEY,
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    used_at   BIGINT
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id);

-- A password accepted for an account with a second factor: the `mfa_token` (stored as its
-- SHA-256) is good for five minutes and one successful second step.
CREATE TABLE mfa_challenges (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    user_agent TEXT,
    ip         TEXT
);
