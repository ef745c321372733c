-- Exchange rates (canonical type `fx_rate`): costs and investments may be in any currency and are
-- reported in the organisation's reporting currency (setting cost.reporting_currency) at the rate
-- of their month. `rate` = units of `reporting_currency` per 1 unit of `currency`.
CREATE TABLE IF NOT EXISTS fx_rate (
  month VARCHAR NOT NULL, currency VARCHAR NOT NULL, reporting_currency VARCHAR NOT NULL,
  rate DOUBLE NOT NULL, source VARCHAR,
  row_hash VARCHAR NOT NULL, ingested_at TIMESTAMP NOT NULL,
  PRIMARY KEY (month, currency, reporting_currency));
