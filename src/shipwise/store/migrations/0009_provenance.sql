-- Provenance of records read by connectors (GitHub, GitLab, local git): where a pull request or
-- deployment came from and, for a deployment, which rule made it one. `shipwise explain` shows
-- them. Optional canonical fields (format v1 is extended, never broken): files may leave them out.
ALTER TABLE pull_request ADD COLUMN IF NOT EXISTS source VARCHAR;
ALTER TABLE deployment ADD COLUMN IF NOT EXISTS source VARCHAR;
ALTER TABLE deployment ADD COLUMN IF NOT EXISTS rule VARCHAR;
