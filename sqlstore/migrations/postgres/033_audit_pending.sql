-- The audit chain off the critical section (issue 15). On PostgreSQL a
-- commit batch writes its audit records here, one row per batch, with the
-- change they record, and takes no shared lock; the chainer (see
-- sqlstore/auditchain.go) moves them into audit, chained in id order,
-- under the audit head's row lock, in a transaction of its own. revokes
-- says the batch holds a record that can refuse a token (the token
-- cache's look reads it). SQLite chains in the writing transaction, as
-- before, and leaves this table empty.
CREATE TABLE audit_pending (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    records TEXT NOT NULL,
    revokes BOOLEAN NOT NULL DEFAULT FALSE
);
