-- Connector sync state: besides the cursor (kept in 0001), the outcome of the last attempt, so a
-- failed sync is visible (`shipwise doctor`) without moving the cursor. Existing rows keep their
-- cursor and count as a successful last attempt at the time it was written.
--   updated_at       when the cursor was last committed (NULL: never, only failed attempts)
--   last_status      'ok' | 'transient' (retry later) | 'terminal' (fix something first) | 'failed' (a bug)
--   last_error       the one-line error of the last attempt (NULL after a success)
--   last_attempt_at  when the last attempt ended, successful or not
ALTER TABLE sync_state ADD COLUMN last_status VARCHAR;
ALTER TABLE sync_state ADD COLUMN last_error VARCHAR;
ALTER TABLE sync_state ADD COLUMN last_attempt_at TIMESTAMP;
ALTER TABLE sync_state ALTER COLUMN updated_at DROP NOT NULL;
UPDATE sync_state SET last_status = 'ok', last_attempt_at = updated_at;
