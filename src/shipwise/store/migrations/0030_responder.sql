-- Resolving an actor's pseudonym for incident response (docs/governance.md#who-to-call).
-- A token may carry the responder grant: its member or lead may ask "is this pseudonym one of
-- these people?" on an open investigation of their team's services, with a reason.
ALTER TABLE api_token ADD COLUMN IF NOT EXISTS responder BOOLEAN DEFAULT FALSE;
-- Every such lookup, allowed or refused: who asked, about which pseudonym, for which
-- investigation, why, and the outcome (match, no match, refused) — never the identity, and
-- never the candidates checked (only how many): shipwise keeps no map from pseudonyms back to
-- people.
CREATE TABLE IF NOT EXISTS actor_lookup (
  looked_up_at TIMESTAMPTZ NOT NULL, token_id VARCHAR, reader VARCHAR, role VARCHAR NOT NULL,
  interface VARCHAR NOT NULL, investigation_id VARCHAR NOT NULL, pseudonym VARCHAR NOT NULL,
  reason VARCHAR, outcome VARCHAR NOT NULL, detail VARCHAR, candidates INTEGER NOT NULL);
