-- A check-out's expiry is a durable job (issue 4): a sweep that fails to
-- check it in records the failure and retries after a jittered,
-- growing delay, without holding up the other check-outs.
ALTER TABLE checkouts ADD COLUMN job_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE checkouts ADD COLUMN job_retry_at BIGINT NOT NULL DEFAULT 0;
