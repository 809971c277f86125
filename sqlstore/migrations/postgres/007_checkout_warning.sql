-- Whether a check-out's expiry warning was sent (issue 4); an extension
-- clears it.
ALTER TABLE checkouts ADD COLUMN warned BOOLEAN NOT NULL DEFAULT FALSE;
