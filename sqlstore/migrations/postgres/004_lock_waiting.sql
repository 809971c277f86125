-- How many wait in a lock's queue, kept on the lock's row so that one
-- statement that locks the row also learns whether to read the queue
-- (issue 3).
ALTER TABLE locks ADD COLUMN waiting BIGINT NOT NULL DEFAULT 0;
UPDATE locks SET waiting = (SELECT COUNT(*) FROM lock_waiters w WHERE w.lock_name = locks.name);
