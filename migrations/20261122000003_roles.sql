-- Roles: 'user' or 'admin'. Admin rights are read from here on every admin call, never
-- taken from a token, so a demotion takes effect at once.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin'));
