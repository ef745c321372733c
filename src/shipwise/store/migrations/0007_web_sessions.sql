-- Web sessions: signing out (or rotating the session secret) ends a session at once, not when its
-- cookie expires. A cookie names its session by a random id; only the id's SHA-256 is kept here,
-- and the cookie is signed with the session secret, which lives in a file outside the store.
CREATE TABLE web_session (
  id_sha256 VARCHAR PRIMARY KEY, token_id VARCHAR NOT NULL, created_at TIMESTAMPTZ NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL, ended_at TIMESTAMPTZ, ended_why VARCHAR);

-- The session secret was kept in meta; whoever could read the store file could forge sessions.
-- It now lives in a 0600 file beside the pseudonymisation key, and a new one is made there (the
-- old one is not carried over: it may have been read).
DELETE FROM meta WHERE key = 'session_secret';
