-- Derived fact for cost to serve: pull requests that reached production. A PR reaches production
-- when the last of its commits has had its first successful production deployment; that instant
-- (and that deployment's team) sets its period. A PR with an undeployed commit is not delivered.
CREATE TABLE pr_delivery_fact (
  pull_request_id VARCHAR NOT NULL, team VARCHAR NOT NULL, delivered_at TIMESTAMP NOT NULL);

INSERT OR REPLACE INTO meta VALUES ('derived_stale', '1');
