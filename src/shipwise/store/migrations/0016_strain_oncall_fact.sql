-- Strain's on-call rota fact: one row per oncall_shift of a human on a team, with the team's
-- time zone (NULL: the configured default). Kept past the retention horizon like
-- strain_page_fact (rows before it frozen, their person replaced by a token).
CREATE TABLE IF NOT EXISTS strain_oncall_fact (
  shift_id VARCHAR NOT NULL, team VARCHAR NOT NULL, person VARCHAR,
  starts_at TIMESTAMP NOT NULL, ends_at TIMESTAMP NOT NULL, timezone VARCHAR);
