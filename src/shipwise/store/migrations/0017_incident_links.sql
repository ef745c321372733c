-- How incidents link to the deployments that caused them (docs/incident-links.md).
-- incident_link_policy: each team's rules, materialised from its attributes (incident_window_hours,
-- incident_labels) by every facts refresh and export, so the link SQL stays portable.
CREATE TABLE IF NOT EXISTS incident_link_policy (
  team VARCHAR PRIMARY KEY, window_hours DOUBLE, deploy_prefix VARCHAR, version_prefix VARCHAR);
-- incident_link (a derived fact): the one production deployment each incident is linked to, and
-- on what basis: explicit (caused_by) > label (deployment, then version) > window.
CREATE TABLE IF NOT EXISTS incident_link (
  incident_id VARCHAR NOT NULL, deployment_id VARCHAR NOT NULL, nkey VARCHAR NOT NULL,
  service VARCHAR NOT NULL, team VARCHAR, basis VARCHAR NOT NULL, label VARCHAR,
  window_hours DOUBLE, seconds_before BIGINT);
