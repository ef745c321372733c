-- The outbox (docs/notifications.md): one row per notification to deliver, written in the same
-- transaction as what it tells of (an investigation saved, a verification recorded), delivered
-- later with retries. id is derived from (channel, event, subject, content), so writing the same
-- thing twice adds nothing; it is also the idempotency key sent with the request.
--   status: pending | delivered | failed (gave up after notify.deliver.max_attempts; requeued by
--           `shipwise notify retry`)
--   thread: rows sharing a thread (a Slack thread: the first row is the parent message, the others
--           reply under its ts) — the investigation's alarm id, else its id
--   target: the remote object the row acts on (Jira issue key, ServiceNow incident number,
--           PagerDuty incident id, GitHub repository, Slack channel)
--   response: what the receiver answered that later rows need (Slack's ts, an issue's URL)
CREATE TABLE IF NOT EXISTS outbox (
  id VARCHAR PRIMARY KEY, seq BIGINT NOT NULL, channel VARCHAR NOT NULL, kind VARCHAR NOT NULL,
  event VARCHAR NOT NULL, subject VARCHAR NOT NULL, thread VARCHAR, target VARCHAR,
  payload VARCHAR NOT NULL, status VARCHAR NOT NULL, attempts INTEGER NOT NULL,
  created_at TIMESTAMP NOT NULL, next_at TIMESTAMP NOT NULL, claimed_until TIMESTAMP,
  delivered_at TIMESTAMP, last_status INTEGER, last_error VARCHAR, response VARCHAR);
CREATE SEQUENCE IF NOT EXISTS outbox_seq;
