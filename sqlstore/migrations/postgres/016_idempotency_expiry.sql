-- Idempotency records expire (Options.IdempotencyTTL, default 24 h): the
-- sweeper deletes them by age.
CREATE INDEX idempotency_created ON idempotency(created_at);

-- Records made before this migration hold an unkeyed SHA-256 of the whole
-- request body, from which a password in that body can be recovered by
-- guessing. They are dropped: a retry of such a request is taken as new.
DELETE FROM idempotency;
