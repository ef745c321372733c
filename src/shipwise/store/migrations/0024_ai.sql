-- AI-assisted development (issue 19).
-- `ai_usage` (canonical type): one team's use of one assistant or agent on one day, as the
-- source reports it, aggregated to the team at the door (never stored per person). Counts are
-- NULL when the source does not report them (not 0). `cost` is that day's spend on the tool for
-- the team, in `currency` (NULL: the tool's spend comes from elsewhere, e.g. an investment).
CREATE TABLE IF NOT EXISTS ai_usage (
  id VARCHAR PRIMARY KEY,            -- team|day|tool
  team VARCHAR NOT NULL, day DATE NOT NULL, tool VARCHAR NOT NULL,
  active_users BIGINT, engaged_users BIGINT,
  suggestions_shown BIGINT, suggestions_accepted BIGINT,
  lines_suggested BIGINT, lines_accepted BIGINT,
  chat_sessions BIGINT, agent_sessions BIGINT,
  cost DOUBLE, currency VARCHAR, source VARCHAR,
  row_hash VARCHAR NOT NULL, ingested_at TIMESTAMP NOT NULL);
-- Who made a change: 'human', 'agent' (a coding agent: configured agent accounts, co-author
-- trailers, labels) or 'bot' (plain automation such as dependency bots). NULL: not classified,
-- read as 'bot' when author_is_bot else 'human'. `agent` names the agent when known.
ALTER TABLE "commit" ADD COLUMN IF NOT EXISTS author_kind VARCHAR;
ALTER TABLE "commit" ADD COLUMN IF NOT EXISTS agent VARCHAR;
ALTER TABLE pull_request ADD COLUMN IF NOT EXISTS author_kind VARCHAR;
ALTER TABLE pull_request ADD COLUMN IF NOT EXISTS agent VARCHAR;
