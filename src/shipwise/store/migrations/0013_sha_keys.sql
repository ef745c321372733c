-- Integer surrogate keys for commit SHAs. The change facts group millions of deployment-commit
-- links by commit and join them to the commits and to pull requests; on 40-character strings
-- that hashing, comparing and writing was most of their refresh. Every SHA the store has seen
-- (as a commit, or named by a deployment or a pull request, possibly before its commit arrives)
-- gets one key for good; the importer assigns keys to new SHAs in the transaction that writes
-- them (shipwise.ingest.loader), and the tables that hold a SHA carry its key beside it.
CREATE TABLE IF NOT EXISTS sha_key (sha VARCHAR PRIMARY KEY, "key" BIGINT NOT NULL);

INSERT INTO sha_key
SELECT sha, (SELECT coalesce(max("key"), 0) FROM sha_key) + row_number() OVER (ORDER BY sha)
FROM (SELECT sha FROM "commit" UNION SELECT sha FROM deployment_commit
      UNION SELECT sha FROM pull_request_commit) s
WHERE sha NOT IN (SELECT sha FROM sha_key);

ALTER TABLE "commit" ADD COLUMN IF NOT EXISTS sha_key BIGINT;
ALTER TABLE deployment_commit ADD COLUMN IF NOT EXISTS sha_key BIGINT;
ALTER TABLE pull_request_commit ADD COLUMN IF NOT EXISTS sha_key BIGINT;
UPDATE "commit" c SET sha_key = k."key" FROM sha_key k WHERE k.sha = c.sha;
UPDATE deployment_commit c SET sha_key = k."key" FROM sha_key k WHERE k.sha = c.sha;
UPDATE pull_request_commit c SET sha_key = k."key" FROM sha_key k WHERE k.sha = c.sha;

-- The change facts name their commit by key (the SHA is one join away, for the rare reader
-- that shows it); rebuilt by the next refresh.
DROP TABLE IF EXISTS dora_change_fact;
CREATE TABLE dora_change_fact (
  sha_key BIGINT NOT NULL, service VARCHAR NOT NULL, team VARCHAR NOT NULL,
  deployed_at TIMESTAMP NOT NULL, lead_seconds BIGINT NOT NULL);
INSERT INTO facts_touch VALUES ('all', 'schema 13: commit keys');
INSERT OR REPLACE INTO meta VALUES ('derived_stale', '1');
