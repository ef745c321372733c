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
