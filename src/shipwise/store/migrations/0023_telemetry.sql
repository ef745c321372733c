-- Telemetry received over OTLP/HTTP (`POST /v1/traces`, `/v1/logs`; docs/otlp.md), read by
-- investigations as evidence (calls, errors and latency per service; error logs per service).
-- Kept for `telemetry.retention_days` (trimmed set-based, by instant). Customer ids on spans are
-- pseudonymised before they are stored (keyed hash, like people).
CREATE TABLE IF NOT EXISTS otel_span (
  trace_id VARCHAR NOT NULL, span_id VARCHAR NOT NULL, parent_span_id VARCHAR NOT NULL,
  service VARCHAR NOT NULL, instance VARCHAR NOT NULL, name VARCHAR NOT NULL,
  kind INTEGER NOT NULL, start_at TIMESTAMP NOT NULL, duration_seconds DOUBLE NOT NULL,
  status_code INTEGER NOT NULL, status_message VARCHAR NOT NULL, customer VARCHAR NOT NULL,
  received_at TIMESTAMP NOT NULL, PRIMARY KEY (trace_id, span_id));
-- log_id: a hash of the record's content, so an exporter's retry stores nothing twice.
CREATE TABLE IF NOT EXISTS otel_log (
  log_id VARCHAR PRIMARY KEY, logged_at TIMESTAMP NOT NULL, service VARCHAR NOT NULL,
  instance VARCHAR NOT NULL, severity_number INTEGER NOT NULL, level VARCHAR NOT NULL,
  body VARCHAR NOT NULL, trace_id VARCHAR NOT NULL, span_id VARCHAR NOT NULL,
  exc_type VARCHAR NOT NULL, exc_message VARCHAR NOT NULL, stack VARCHAR NOT NULL,
  received_at TIMESTAMP NOT NULL);
