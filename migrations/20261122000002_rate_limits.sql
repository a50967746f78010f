-- Per-client rate-limit buckets, kept in the database so every server instance on it
-- shares them (GCRA: one row per bucket holding its "theoretical arrival time").
CREATE TABLE rate_limits (
    bucket TEXT PRIMARY KEY,  -- '<action>:<client network>'
    tat_ms BIGINT NOT NULL    -- Unix milliseconds; a bucket is full again once this has passed
);
