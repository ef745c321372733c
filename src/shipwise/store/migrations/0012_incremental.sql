-- Incremental recompute: what an ingest touched, and which teams' facts changed since the last
-- full rebuild (cached views such as the suppression decision are keyed by them).

-- Keys an ingest changed, written in the same transaction as the data (kind: nkey, sha, pr,
-- person, page, team, org, raw, all). ``refresh`` re-derives only the fact rows these reach and
-- empties the table; ``all`` (or a stale store without touches) means a full rebuild.
CREATE TABLE IF NOT EXISTS facts_touch (kind VARCHAR NOT NULL, "key" VARCHAR NOT NULL);

-- Per fact table and team, a version that changes whenever a refresh changed one of that team's
-- rows; emptied by a full rebuild (which changes ``facts_generation`` instead). ``tbl`` 'org':
-- the organisation's hierarchy changed.
CREATE TABLE IF NOT EXISTS facts_team_version (
  tbl VARCHAR NOT NULL, team VARCHAR NOT NULL, version VARCHAR NOT NULL,
  PRIMARY KEY (tbl, team));

-- The flow and strain facts lose their primary keys: nothing looks a row up by key or upserts
-- into them (their SELECTs give one row per pull request or page), and DuckDB's index upkeep
-- made deleting their rows on a rebuild cost most of the refresh (at 13.5 M events, ~50 s of
-- the commit; a quarter of that on the demo). Same columns, same order.
CREATE TABLE flow_pr_fact_0012 (
  pull_request_id VARCHAR NOT NULL, team VARCHAR, author_team VARCHAR, author VARCHAR,
  created_at TIMESTAMP NOT NULL, first_commit_at TIMESTAMP, first_review_at TIMESTAMP,
  merged_at TIMESTAMP, closed_at TIMESTAMP, delivered_at TIMESTAMP);
INSERT INTO flow_pr_fact_0012 SELECT * FROM flow_pr_fact;
DROP TABLE flow_pr_fact;
ALTER TABLE flow_pr_fact_0012 RENAME TO flow_pr_fact;

CREATE TABLE strain_page_fact_0012 (
  page_id VARCHAR NOT NULL, team VARCHAR NOT NULL, person VARCHAR, "at" TIMESTAMP NOT NULL,
  urgency VARCHAR NOT NULL, timezone VARCHAR);
INSERT INTO strain_page_fact_0012 SELECT * FROM strain_page_fact;
DROP TABLE strain_page_fact;
ALTER TABLE strain_page_fact_0012 RENAME TO strain_page_fact;

-- Per incremental refresh (``facts_seq`` in meta) and fact table: the earliest instant of a row
-- it changed (NULL for 'org', the hierarchy, and raw record types). A cached suppression decision
-- recounts people only from there on. Emptied by a full rebuild.
CREATE TABLE IF NOT EXISTS facts_change (seq BIGINT NOT NULL, tbl VARCHAR NOT NULL, since TIMESTAMP);
