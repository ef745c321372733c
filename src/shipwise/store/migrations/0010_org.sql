-- The organisation file (`shipwise org apply`): identity aliases, ownership over time, and the
-- repositories and deploy targets of services. No raw email or login is stored: aliases are
-- pseudonyms (or readable bot ids), like every person field.

-- One person's other ids: `alias` (a stored id) is the same person as `person` (the canonical
-- stored id: the pseudonym of the first email, or first id, the file lists for them). The
-- importer replaces an alias by its person as it pseudonymises; `org apply` rewrites rows
-- already stored.
CREATE TABLE IF NOT EXISTS person_alias (
  alias VARCHAR PRIMARY KEY, person VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL);

-- Who owned a service when (days, inclusive; NULL: unbounded). `service.team` stays the owner
-- today; a production deployment counts for the team owning its service on the day it finished
-- (else `service.team`). A service with one owner throughout has no rows.
CREATE TABLE IF NOT EXISTS service_owner (
  service VARCHAR NOT NULL, team VARCHAR NOT NULL, since DATE, "until" DATE,
  applied_at TIMESTAMP NOT NULL);

-- Where a service's deployments come from: a repository (no patterns) or a deploy target in a
-- monorepo (fnmatch patterns on the environment and the deploying job). In the file's order.
CREATE TABLE IF NOT EXISTS service_target (
  service VARCHAR NOT NULL, position INTEGER NOT NULL, repo VARCHAR NOT NULL,
  environment VARCHAR, job VARCHAR, applied_at TIMESTAMP NOT NULL,
  PRIMARY KEY (service, position));
