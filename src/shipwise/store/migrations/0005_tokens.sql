-- API tokens (shipwise token create): shown once, stored as the SHA-256 of their secret part
-- (the secret is 32 random bytes, so a fast hash is enough; no password stretching needed).
CREATE TABLE api_token (
  id VARCHAR PRIMARY KEY,            -- public part of the token: sw_<id>_<secret>
  name VARCHAR NOT NULL,
  role VARCHAR NOT NULL,             -- member | lead | exec | admin
  team VARCHAR,                      -- member and lead: the team they belong to
  secret_sha256 VARCHAR NOT NULL,
  created_at TIMESTAMPTZ NOT NULL,
  revoked_at TIMESTAMPTZ,
  last_used_at TIMESTAMPTZ);

-- Who read what: every read of a view through the API, web, MCP or CLI with a token.
CREATE TABLE access_log (
  read_at TIMESTAMPTZ NOT NULL, token_id VARCHAR, role VARCHAR NOT NULL, interface VARCHAR NOT NULL,
  action VARCHAR NOT NULL, subject VARCHAR, allowed BOOLEAN NOT NULL);
