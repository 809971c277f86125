-- Journal uploads and reservations (issue 10, holes 4 and 5). Times are
-- UTC microseconds.

-- Which logins' offline logon verifiers each terminal's agent was sent:
-- from first_sent_at (the issue time of the policy that first carried it,
-- since it was last left out), valid until expires_at (the latest expiry
-- sent), until withdrawn_at (the issue time of the first policy that left
-- it out; NULL while it is still sent). A journal entry's `verified` counts
-- only when the terminal held the login's verifier when the entry began.
CREATE TABLE sent_verifiers (
    terminal_id    TEXT NOT NULL REFERENCES terminals(id),
    login          TEXT NOT NULL,
    first_sent_at  BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    withdrawn_at   BIGINT,
    PRIMARY KEY (terminal_id, login)
);

-- The start of the latest standalone period the agent reported (0: none):
-- no journal entry of the terminal starts before it.
ALTER TABLE terminals ADD COLUMN standalone_from BIGINT NOT NULL DEFAULT 0;

-- A session whose person the server could not establish (an unchecked or
-- refused journal entry): recorded and listed, never charged to the
-- person's quota, never a reason to cache their verifier.
ALTER TABLE sessions ADD COLUMN unverified BOOLEAN NOT NULL DEFAULT FALSE;

-- Booking caps of a site (0: no cap; staff are exempt).
ALTER TABLE sites ADD COLUMN max_reservations_per_user INTEGER NOT NULL DEFAULT 3;
ALTER TABLE sites ADD COLUMN max_booking_days_ahead INTEGER NOT NULL DEFAULT 14;
CREATE INDEX reservations_principal ON reservations (principal_id, start_at);
