-- Exclusive edit locks (issue 3). A lock row is made on first use and
-- kept: fence, the last fencing token granted, must only grow. The holder
-- columns are NULL while the lock is free. Times are UTC microseconds.
CREATE TABLE locks (
    name              TEXT PRIMARY KEY,
    fence             BIGINT NOT NULL DEFAULT 0,
    holder_principal  TEXT REFERENCES principals(id),
    holder_token      TEXT,
    holder_note       TEXT NOT NULL DEFAULT '',
    acquired_at       BIGINT,
    expires_at        BIGINT,
    ttl_us            BIGINT
);
CREATE INDEX locks_expiry ON locks (expires_at) WHERE holder_token IS NOT NULL;

-- The FIFO queue of a lock: seq gives the arrival order within the lock.
-- token is the waiting user token's stored hash.
CREATE TABLE lock_waiters (
    lock_name     TEXT NOT NULL REFERENCES locks(name),
    token         TEXT NOT NULL,
    seq           BIGINT NOT NULL,
    principal_id  TEXT NOT NULL REFERENCES principals(id),
    note          TEXT NOT NULL DEFAULT '',
    enqueued_at   BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    ttl_us        BIGINT NOT NULL,
    PRIMARY KEY (lock_name, token)
);
CREATE INDEX lock_waiters_order ON lock_waiters (lock_name, seq);
CREATE INDEX lock_waiters_expiry ON lock_waiters (expires_at);
