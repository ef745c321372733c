-- GitHub and GitLab webhook deliveries (`POST /webhooks/github`, `/webhooks/gitlab`). A verified
-- delivery names what changed (a repository); the server then syncs that repository with the
-- same connector code as `shipwise sync`. The body is not kept: what the metrics need is read
-- from the API, and a payload carries people's emails. Refused deliveries (bad signature) are
-- kept as a row without a body, so an operator sees them.
--   provider     'github' | 'gitlab'
--   delivery_id  X-GitHub-Delivery / X-Gitlab-Event-UUID (or a hash of the body when absent)
--   status       'queued' | 'synced' | 'failed' | 'ignored' | 'refused'
CREATE TABLE IF NOT EXISTS webhook_delivery (
  provider VARCHAR NOT NULL, delivery_id VARCHAR NOT NULL, event VARCHAR,
  source VARCHAR, scope VARCHAR, status VARCHAR NOT NULL, reason VARCHAR,
  received_at TIMESTAMP NOT NULL, processed_at TIMESTAMP,
  PRIMARY KEY (provider, delivery_id));
