-- The kept topology (docs/topology.md): what depends on what, learnt and kept across
-- investigations instead of thrown away after each one. No people: entities are services,
-- instances, hosts, groups, teams (`team:ID`), org units (`org_unit:ID`), repositories
-- (`repo:NAME`) and deploy targets (`env:ENVIRONMENT[/REGION]`).
--   relation: calls | reads | writes | consumes | runs_on | member_of | depends_on | owned_by |
--             part_of | built_from | deploys_to (as the source gave it);
--   origin: where it was learnt: store | traces | prometheus | deployments | file;
--   seen: the number of distinct observations (an investigation, a day of store refresh, a
--         deployment) that saw the edge: the same observation recorded twice counts once.
CREATE TABLE IF NOT EXISTS topology_edge (
  source VARCHAR NOT NULL, target VARCHAR NOT NULL, relation VARCHAR NOT NULL,
  origin VARCHAR NOT NULL, first_seen_at TIMESTAMP NOT NULL, last_seen_at TIMESTAMP NOT NULL,
  seen BIGINT NOT NULL, PRIMARY KEY (source, target, relation, origin));
-- Which observation saw which edge (what makes `seen` idempotent).
CREATE TABLE IF NOT EXISTS topology_observation (
  source VARCHAR NOT NULL, target VARCHAR NOT NULL, relation VARCHAR NOT NULL,
  origin VARCHAR NOT NULL, observation VARCHAR NOT NULL, seen_at TIMESTAMP NOT NULL,
  PRIMARY KEY (source, target, relation, origin, observation));
-- Every entity of the kept topology: its kind (service, instance, team…) and owning team when
-- known (from the store's `service.team`).
CREATE TABLE IF NOT EXISTS topology_node (
  entity VARCHAR PRIMARY KEY, kind VARCHAR, team VARCHAR,
  first_seen_at TIMESTAMP NOT NULL, last_seen_at TIMESTAMP NOT NULL);
