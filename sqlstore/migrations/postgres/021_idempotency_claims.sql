-- A keyed request's claim names the node that runs it, and is marked
-- applied in the transaction of the request's change (issue 12): a retry
-- on another node runs at once when the claimant died before the change,
-- and is never run again after it.
ALTER TABLE idempotency ADD COLUMN node TEXT NOT NULL DEFAULT '';
ALTER TABLE idempotency ADD COLUMN applied BOOLEAN NOT NULL DEFAULT FALSE;
