-- Humane analytics and governance: flow inputs, the repository of a service, retention and an
-- audit of people-derived reads.

ALTER TABLE service ADD COLUMN repo VARCHAR;

-- A work ticket entering a status at an instant; in that status until its next event.
CREATE TABLE ticket_status (
  ticket VARCHAR NOT NULL, team VARCHAR NOT NULL, "at" TIMESTAMP NOT NULL, status VARCHAR NOT NULL,
  category VARCHAR NOT NULL, blocked_on VARCHAR,
  row_hash VARCHAR NOT NULL, ingested_at TIMESTAMP NOT NULL,
  PRIMARY KEY (ticket, "at"));

-- Retention removes the person from records past their period (the record itself stays, so
-- delivery aggregates do not change): authors become NULL.
ALTER TABLE "commit" ALTER COLUMN author DROP NOT NULL;
ALTER TABLE pull_request ALTER COLUMN author DROP NOT NULL;

-- Who read what: people-derived reads are marked, and the reader's name kept beside the token.
ALTER TABLE access_log ADD COLUMN people_derived BOOLEAN DEFAULT false;
ALTER TABLE access_log ADD COLUMN reader VARCHAR;

-- Flow facts, one row per pull request (team = the team owning the repository; author_team = the
-- team of its author when it was opened). Rows before the retention horizon are kept as they were
-- when retention ran (their author removed), so aggregates survive the purge of their inputs.
CREATE TABLE flow_pr_fact (
  pull_request_id VARCHAR PRIMARY KEY, team VARCHAR, author_team VARCHAR, author VARCHAR,
  created_at TIMESTAMP NOT NULL, first_commit_at TIMESTAMP, first_review_at TIMESTAMP,
  merged_at TIMESTAMP, closed_at TIMESTAMP, delivered_at TIMESTAMP);

-- Strain facts, one row per page to a human, with the team's time zone (NULL: the configured
-- default). Kept past the retention horizon like flow_pr_fact, their person removed.
CREATE TABLE strain_page_fact (
  page_id VARCHAR PRIMARY KEY, team VARCHAR NOT NULL, person VARCHAR, "at" TIMESTAMP NOT NULL,
  urgency VARCHAR NOT NULL, timezone VARCHAR);

-- Distinct people behind a team's people-derived figures per period, frozen when retention
-- removed the people from the facts (so suppression decisions never change afterwards).
CREATE TABLE people_count_frozen (
  family VARCHAR NOT NULL, team VARCHAR NOT NULL, grain VARCHAR NOT NULL, period VARCHAR NOT NULL,
  people BIGINT NOT NULL, PRIMARY KEY (family, team, grain, period));

-- Strain figures that count people (on-call person-weeks, the busiest fifth's share) of the
-- periods a retention cut-off falls inside, frozen at that run: inside such a period, rows
-- before the cut-off no longer name their person, so recounting would split one person in two.
CREATE TABLE strain_frozen (
  level VARCHAR NOT NULL, grain VARCHAR NOT NULL, period VARCHAR NOT NULL, entity VARCHAR NOT NULL,
  oncall_person_weeks BIGINT, busiest_fifth_share DOUBLE,
  PRIMARY KEY (level, grain, period, entity));

-- Each retention run: when, the cut-off per record type, and what it removed.
CREATE TABLE retention_run (
  run_at TIMESTAMPTZ NOT NULL, record_type VARCHAR NOT NULL, cutoff TIMESTAMP NOT NULL,
  action VARCHAR NOT NULL, rows BIGINT NOT NULL);

INSERT OR REPLACE INTO meta VALUES ('derived_stale', '1');
