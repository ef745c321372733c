"""Reading canonical records into the store: files (JSONL, CSV, Parquet) and Arrow tables,
validated in SQL, with rejected records kept in the quarantine with their reason."""
