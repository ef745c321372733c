-- Alarm intake (webhooks) and investigations.

-- One row per alarm received (and per resolved notice, rejected body or SNS handshake). The raw body
-- is always kept, malformed ones too. id = 'alm-' + the first 16 hex digits of sha256(alarm_key),
-- so the same alert delivered again (an Alertmanager retry or repeat) lands on the same row and only
-- bumps deliveries. alarm_key: '<kind>:<alert identity>' for an alarm (Alertmanager
-- 'alertmanager:<fingerprint>@<startsAt epoch>', Dynatrace 'dynatrace:<PID>', CloudWatch
-- 'cloudwatch:<AlarmArn>@<StateChangeTime epoch>', generic 'generic:<id or content hash>');
-- '<that>:resolved' (or ':ok', ...) for a resolved notice; 'rejected:<payload_sha256>' for a
-- malformed body; 'sns:<MessageId>' for an SNS subscription handshake.
CREATE TABLE alarm_intake (
  id VARCHAR PRIMARY KEY,
  received_at TIMESTAMPTZ NOT NULL,
  source_kind VARCHAR,                -- alertmanager | dynatrace | cloudwatch | generic (NULL: unknown)
  status VARCHAR NOT NULL,            -- accepted | rejected | resolved | subscription | investigating | investigated | failed
  error VARCHAR,                      -- why rejected or failed
  payload VARCHAR NOT NULL,           -- the raw body, always kept
  payload_sha256 VARCHAR NOT NULL,
  alarm JSON,                         -- the alarm (alarm.json shape); resolved: {entity, name, state}
  investigation_id VARCHAR,
  alarm_key VARCHAR NOT NULL,
  deliveries INTEGER NOT NULL DEFAULT 1);

-- One row per investigation (written by the investigation engine).
CREATE TABLE investigation (
  id VARCHAR PRIMARY KEY,
  created_at TIMESTAMPTZ NOT NULL,
  alarm_id VARCHAR,                   -- alarm_intake.id, when it came from a webhook
  entity VARCHAR,
  metric VARCHAR,
  alarm_at TIMESTAMPTZ,
  status VARCHAR NOT NULL,
  root_cause_entity VARCHAR,
  root_cause_kind VARCHAR,
  confidence DOUBLE,
  summary VARCHAR,
  seconds DOUBLE,
  record JSON NOT NULL);
