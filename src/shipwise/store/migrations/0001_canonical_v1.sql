-- Canonical event format v1: one table per record type, natural keys, UTC instants.
-- Every upserted table carries row_hash (to tell updated from unchanged) and ingested_at.

CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);

CREATE TABLE org_unit (
  id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, parent VARCHAR,
  row_hash VARCHAR NOT NULL, ingested_at TIMESTAMP NOT NULL);

CREATE TABLE team (
  id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, org_unit VARCHAR NOT NULL,
  delivery_unit VARCHAR NOT NULL, attributes JSON,
  row_hash VARCHAR NOT NULL, ingested_at TIMESTAMP NOT NULL);

CREATE TABLE service (
  id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, team VARCHAR NOT NULL,
  row_hash VARCHAR NOT NULL, ingested_at TIMESTAMP NOT NULL);

CREATE TABLE person (
  id VARCHAR NOT NULL, team VARCHAR NOT NULL, since DATE NOT NULL, "until" DATE,
  bot BOOLEAN NOT NULL,
  row_hash VARCHAR NOT NULL, ingested_at TIMESTAMP NOT NULL,
  PRIMARY KEY (id, team, since));

CREATE TABLE "commit" (
  sha VARCHAR PRIMARY KEY, repo VARCHAR NOT NULL, author VARCHAR NOT NULL,
  author_is_bot BOOLEAN NOT NULL,
  authored_at TIMESTAMP NOT NULL, committed_at TIMESTAMP NOT NULL,
  additions BIGINT NOT NULL, deletions BIGINT NOT NULL, files_changed BIGINT, parents VARCHAR[],
  row_hash VARCHAR NOT NULL, ingested_at TIMESTAMP NOT NULL);

CREATE TABLE pull_request (
  id VARCHAR PRIMARY KEY, repo VARCHAR NOT NULL, number BIGINT NOT NULL,
  author VARCHAR NOT NULL, author_is_bot BOOLEAN NOT NULL,
  created_at TIMESTAMP NOT NULL, first_commit_at TIMESTAMP, first_review_at TIMESTAMP,
  merged_at TIMESTAMP, closed_at TIMESTAMP, additions BIGINT, deletions BIGINT,
  row_hash VARCHAR NOT NULL, ingested_at TIMESTAMP NOT NULL);

CREATE TABLE pull_request_commit (
  pull_request_id VARCHAR NOT NULL, sha VARCHAR NOT NULL, PRIMARY KEY (pull_request_id, sha));

CREATE TABLE deployment (
  id VARCHAR PRIMARY KEY, service VARCHAR NOT NULL, environment VARCHAR NOT NULL,
  started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP NOT NULL, status VARCHAR NOT NULL,
  version VARCHAR, region VARCHAR, kind VARCHAR NOT NULL, remediates VARCHAR,
  manual_interventions BIGINT NOT NULL,
  row_hash VARCHAR NOT NULL, ingested_at TIMESTAMP NOT NULL);

CREATE TABLE deployment_commit (
  deployment_id VARCHAR NOT NULL, sha VARCHAR NOT NULL, PRIMARY KEY (deployment_id, sha));

CREATE TABLE incident (
  id VARCHAR PRIMARY KEY, service VARCHAR NOT NULL, severity VARCHAR NOT NULL,
  opened_at TIMESTAMP NOT NULL, resolved_at TIMESTAMP, caused_by VARCHAR,
  human_actioned BOOLEAN NOT NULL,
  row_hash VARCHAR NOT NULL, ingested_at TIMESTAMP NOT NULL);

CREATE TABLE page (
  id VARCHAR PRIMARY KEY, team VARCHAR NOT NULL, person VARCHAR NOT NULL,
  person_is_bot BOOLEAN NOT NULL, "at" TIMESTAMP NOT NULL, urgency VARCHAR NOT NULL,
  row_hash VARCHAR NOT NULL, ingested_at TIMESTAMP NOT NULL);

CREATE TABLE cost (
  team VARCHAR NOT NULL, month VARCHAR NOT NULL, category VARCHAR NOT NULL,
  amount DOUBLE NOT NULL, currency VARCHAR NOT NULL,
  row_hash VARCHAR NOT NULL, ingested_at TIMESTAMP NOT NULL,
  PRIMARY KEY (team, month, category));

CREATE TABLE headcount (
  team VARCHAR NOT NULL, month VARCHAR NOT NULL, fte DOUBLE NOT NULL,
  row_hash VARCHAR NOT NULL, ingested_at TIMESTAMP NOT NULL,
  PRIMARY KEY (team, month));

CREATE TABLE investment (
  id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, started_at TIMESTAMP NOT NULL,
  amount DOUBLE NOT NULL, currency VARCHAR NOT NULL, kind VARCHAR NOT NULL,
  row_hash VARCHAR NOT NULL, ingested_at TIMESTAMP NOT NULL);

CREATE TABLE investment_team (
  investment_id VARCHAR NOT NULL, team VARCHAR NOT NULL, PRIMARY KEY (investment_id, team));

CREATE TABLE slo (
  id VARCHAR PRIMARY KEY, service VARCHAR NOT NULL, objective DOUBLE NOT NULL,
  window_days BIGINT NOT NULL,
  row_hash VARCHAR NOT NULL, ingested_at TIMESTAMP NOT NULL);

CREATE TABLE sli (
  slo VARCHAR NOT NULL, "at" TIMESTAMP NOT NULL, good BIGINT NOT NULL, total BIGINT NOT NULL,
  row_hash VARCHAR NOT NULL, ingested_at TIMESTAMP NOT NULL,
  PRIMARY KEY (slo, "at"));

CREATE TABLE tag (
  repo VARCHAR NOT NULL, name VARCHAR NOT NULL, sha VARCHAR NOT NULL, tagged_at TIMESTAMP,
  tagger VARCHAR, tagger_is_bot BOOLEAN, row_hash VARCHAR NOT NULL, ingested_at TIMESTAMP NOT NULL,
  PRIMARY KEY (repo, name));

-- Records that could not be accepted, with the reason and the record as read. Never dropped.
CREATE TABLE quarantine (
  id VARCHAR PRIMARY KEY,            -- md5(type, reason, raw): the same bad record twice is kept once
  type VARCHAR, reason VARCHAR NOT NULL, source VARCHAR, line BIGINT, raw VARCHAR,
  quarantined_at TIMESTAMP NOT NULL);

-- One row per ingest (import, connector sync, demo), with what it did.
CREATE TABLE ingest_run (
  id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, source VARCHAR NOT NULL,
  started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP, counts JSON);

-- Connector cursors (e.g. the ref tips a git repository had at the last sync).
CREATE TABLE sync_state (
  connector VARCHAR NOT NULL, scope VARCHAR NOT NULL, cursor JSON NOT NULL,
  updated_at TIMESTAMP NOT NULL, PRIMARY KEY (connector, scope));

-- Calendar: every UTC day with the periods metrics group by.
CREATE TABLE calendar (
  day DATE PRIMARY KEY,
  iso_year INTEGER NOT NULL, iso_week INTEGER NOT NULL, week VARCHAR NOT NULL, week_start DATE NOT NULL,
  month VARCHAR NOT NULL, month_start DATE NOT NULL,
  quarter VARCHAR NOT NULL, quarter_start DATE NOT NULL,
  year INTEGER NOT NULL, weekday INTEGER NOT NULL, is_weekend BOOLEAN NOT NULL);

INSERT INTO calendar
SELECT d::DATE,
  isoyear(d), week(d),
  printf('%04d-W%02d', isoyear(d), week(d)), (d::DATE - (isodow(d) - 1)::INTEGER),
  strftime(d, '%Y-%m'), date_trunc('month', d)::DATE,
  printf('%04d-Q%d', year(d), quarter(d)), date_trunc('quarter', d)::DATE,
  year(d), isodow(d), isodow(d) >= 6
FROM range(DATE '2000-01-01', DATE '2041-01-01', INTERVAL 1 DAY) r(d);
