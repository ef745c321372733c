-- Re-scoped investigations (docs/ask.md): a follow-up question that narrows an investigation
-- ("focus on the most recent wave", "only us-east", "what about the database?", "last 30
-- minutes") re-runs it with the narrowed window or scope; the new record (child) is linked to
-- the one asked (parent). The same question asked again replaces its child: one row per pair.
--   narrowing: JSON {kind: window | wave | entities | region, text, start, end, entities, region}
CREATE TABLE IF NOT EXISTS investigation_link (
  parent_id VARCHAR NOT NULL, child_id VARCHAR NOT NULL, question VARCHAR NOT NULL,
  narrowing VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL,
  PRIMARY KEY (parent_id, child_id));
