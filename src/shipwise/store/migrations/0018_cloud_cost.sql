-- Cloud cost from AWS Cost and Usage Report 2.0 (Data Exports) and FOCUS 1.x files
-- (`shipwise cost cloud import`; docs/cloud-cost.md). One row per billing month, billing account,
-- usage account, tag value, service, charge category and cost basis: the file's line items summed.
-- A month of a billing account comes from one file only: importing a file (again, or a restated
-- month) replaces the months it holds, so nothing is counted twice.
--   kind: spend | credit | refund | discount | adjustment (credits and refunds are never netted
--         into spend); basis: amortised (effective cost) | unblended (billed cost);
--   team: the team the row was mapped to (by tag, else by account), NULL when unmapped.
CREATE TABLE IF NOT EXISTS cloud_cost (
  month VARCHAR NOT NULL, billing_account VARCHAR NOT NULL, account VARCHAR NOT NULL,
  tag_value VARCHAR, team VARCHAR, mapped_by VARCHAR, service VARCHAR NOT NULL,
  charge_category VARCHAR NOT NULL, kind VARCHAR NOT NULL, basis VARCHAR NOT NULL,
  currency VARCHAR NOT NULL, amount DOUBLE NOT NULL, line_items BIGINT NOT NULL,
  file VARCHAR NOT NULL, format VARCHAR NOT NULL, ingested_at TIMESTAMP NOT NULL);
-- Which file each (billing account, month) was last taken from, and the file's signature
-- (size and modification time), so the same unchanged file is not read twice.
CREATE TABLE IF NOT EXISTS cloud_cost_file (
  billing_account VARCHAR NOT NULL, month VARCHAR NOT NULL, file VARCHAR NOT NULL,
  signature VARCHAR NOT NULL, format VARCHAR NOT NULL, line_items BIGINT NOT NULL,
  quarantined BIGINT NOT NULL, imported_at TIMESTAMP NOT NULL,
  PRIMARY KEY (billing_account, month));
