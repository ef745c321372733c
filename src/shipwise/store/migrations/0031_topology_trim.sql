-- Kept-topology retention (`topology.retention_days`, docs/topology.md): observations older than
-- the horizon are folded into their edge's `seen_trimmed` count and deleted; an edge last seen
-- before the horizon is deleted with them. The horizon is kept in meta
-- (`topology_trimmed_before`): an observation older than it is not recorded again, so re-learning
-- an old day never counts it twice.
ALTER TABLE topology_edge ADD COLUMN IF NOT EXISTS seen_trimmed BIGINT DEFAULT 0;
