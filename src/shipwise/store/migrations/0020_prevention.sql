-- Verdicts on investigations and prevention recommendations (docs/prevention.md).

-- A responder's verdict on a stored investigation's root cause: right, partly or wrong, with an
-- optional comment. One per investigation (marking again replaces it). marked_by is the role and
-- interface that marked it, never a person.
CREATE TABLE IF NOT EXISTS investigation_verdict (
  investigation_id VARCHAR PRIMARY KEY,
  verdict VARCHAR NOT NULL,            -- right | partly | wrong
  comment VARCHAR,
  marked_at TIMESTAMPTZ NOT NULL,
  marked_by VARCHAR NOT NULL);         -- e.g. 'member/web'

-- One row per recommendation a prevention scan found, under a stable key
-- ('<category>:<rule>:<subject>'): a re-scan updates its evidence, never adds a twin, and keeps
-- what people decided (status, reason). active: the pattern was seen by the latest scan.
CREATE TABLE IF NOT EXISTS prevention_recommendation (
  key VARCHAR PRIMARY KEY,
  category VARCHAR NOT NULL,           -- governance | infrastructure | observability | pipeline
  rule VARCHAR NOT NULL,
  subject VARCHAR NOT NULL,            -- the service (or service:detail) it is about
  service VARCHAR,
  team VARCHAR,                        -- the service's team (NULL: no team's service)
  title VARCHAR NOT NULL,
  rationale VARCHAR NOT NULL,
  change VARCHAR NOT NULL,
  incidents JSON NOT NULL,             -- [{id, source, at, impact, minutes, weight, verdict}]
  occurrences INTEGER NOT NULL,
  cost DOUBLE NOT NULL,                -- sum of weight x customer impact x hours
  priority VARCHAR NOT NULL,           -- high | medium | low
  first_at TIMESTAMPTZ,
  last_at TIMESTAMPTZ,
  status VARCHAR NOT NULL DEFAULT 'open',  -- open | accepted | dismissed | done
  reason VARCHAR,
  status_at TIMESTAMPTZ,
  active BOOLEAN NOT NULL DEFAULT TRUE,
  first_seen_at TIMESTAMPTZ NOT NULL,
  last_seen_at TIMESTAMPTZ NOT NULL,
  last_scan_id VARCHAR);

-- One row per prevention scan: when, who started it, what it read and found.
CREATE TABLE IF NOT EXISTS prevention_scan (
  id VARCHAR PRIMARY KEY,
  started_at TIMESTAMPTZ NOT NULL,
  finished_at TIMESTAMPTZ,
  trigger VARCHAR NOT NULL,            -- cli | api | web | mcp | server
  investigations INTEGER,
  incidents INTEGER,
  found INTEGER,
  new INTEGER,
  reopened INTEGER,
  seconds DOUBLE);
