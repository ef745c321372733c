-- Derived DORA facts, rebuilt by shipwise.metrics.facts.refresh() after an ingest changes their
-- inputs (service, deployment, deployment_commit, commit, incident). Metric queries aggregate
-- these instead of re-deriving them from raw events on every request.

-- A store upgraded from v1 already holds events: its facts must be built before the next read.
INSERT OR REPLACE INTO meta VALUES ('derived_stale', '1');

-- One row per normalised production deployment (service+version, else deployment id).
CREATE TABLE dora_deploy_fact (
  nkey VARCHAR NOT NULL, service VARCHAR NOT NULL, team VARCHAR NOT NULL,
  first_success_at TIMESTAMP, reached_at TIMESTAMP,
  failed INTEGER NOT NULL, rework INTEGER NOT NULL);

-- One row per normalised deployment that never reached production (status failure).
CREATE TABLE dora_attempt_fact (
  nkey VARCHAR NOT NULL, service VARCHAR NOT NULL, team VARCHAR NOT NULL, "at" TIMESTAMP NOT NULL);

-- One row per failed normalised deployment, with when service was restored (NULL: unresolved).
CREATE TABLE dora_recovery_fact (
  nkey VARCHAR NOT NULL, service VARCHAR NOT NULL, team VARCHAR NOT NULL,
  reached_at TIMESTAMP NOT NULL, restored_at TIMESTAMP);

-- One row per commit that reached production: its first successful production deployment.
CREATE TABLE dora_change_fact (
  sha VARCHAR NOT NULL, service VARCHAR NOT NULL, team VARCHAR NOT NULL,
  deployed_at TIMESTAMP NOT NULL, lead_seconds BIGINT NOT NULL);
