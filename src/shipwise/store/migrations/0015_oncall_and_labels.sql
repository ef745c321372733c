-- Incidents keep their labels (child table, as deployment commits) and where they came from;
-- on-call rota shifts (canonical type `oncall_shift`): who of a team was on call, when.
ALTER TABLE incident ADD COLUMN IF NOT EXISTS source VARCHAR;
CREATE TABLE IF NOT EXISTS incident_label (
  incident_id VARCHAR NOT NULL, label VARCHAR NOT NULL, PRIMARY KEY (incident_id, label));
CREATE TABLE IF NOT EXISTS oncall_shift (
  id VARCHAR PRIMARY KEY, team VARCHAR NOT NULL, person VARCHAR NOT NULL,
  person_is_bot BOOLEAN NOT NULL, starts_at TIMESTAMP NOT NULL, ends_at TIMESTAMP NOT NULL,
  schedule VARCHAR, source VARCHAR,
  row_hash VARCHAR NOT NULL, ingested_at TIMESTAMP NOT NULL);
