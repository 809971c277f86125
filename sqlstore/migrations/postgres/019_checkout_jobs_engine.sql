-- A check-out's expiry and warning move onto the job engine (issue 12):
-- the running check-outs get their jobs, and the per-check-out retry
-- columns of 009 give way to the jobs' own attempts and back-off. A
-- warning job is due at once: it sleeps until its time when it wakes.
INSERT INTO jobs (id, kind, job_key, args, state, run_at, attempts, max_attempts, node, fence, lease_until, error, created_at, updated_at, ended_at)
SELECT 'job_expire_' || id, 'checkout.expire', 'checkout.expire:' || id, '{"checkout":"' || id || '"}', 'available',
       expires_at, 0, 25, '', 0, NULL, '', started_at, started_at, NULL
FROM checkouts WHERE status IN ('checking_out', 'checked_out');
INSERT INTO jobs (id, kind, job_key, args, state, run_at, attempts, max_attempts, node, fence, lease_until, error, created_at, updated_at, ended_at)
SELECT 'job_warn_' || id, 'checkout.warn', 'checkout.warn:' || id, '{"checkout":"' || id || '"}', 'available',
       started_at, 0, 25, '', 0, NULL, '', started_at, started_at, NULL
FROM checkouts WHERE status IN ('checking_out', 'checked_out') AND NOT warned;
ALTER TABLE checkouts DROP COLUMN job_attempts;
ALTER TABLE checkouts DROP COLUMN job_retry_at;
