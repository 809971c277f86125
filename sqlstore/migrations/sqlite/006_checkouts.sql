-- Check-outs and the instructions that carry them to the terminal's agent
-- (issue 4). A terminal's checkout_generation is the last generation
-- (fencing number) it handed out. groups_json is a JSON array of strings.
-- Times are UTC microseconds; 0 where a time does not apply.
ALTER TABLE terminals ADD COLUMN checkout_generation BIGINT NOT NULL DEFAULT 0;

CREATE TABLE checkouts (
    id            TEXT PRIMARY KEY,
    groupset_id   TEXT NOT NULL REFERENCES groupsets(id),
    terminal_id   TEXT NOT NULL REFERENCES terminals(id),
    principal_id  TEXT NOT NULL REFERENCES principals(id),
    login         TEXT NOT NULL,
    groups_json   TEXT NOT NULL,
    status        TEXT NOT NULL,
    generation    BIGINT NOT NULL,
    started_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    end_reason    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX checkouts_due ON checkouts (expires_at) WHERE status IN ('checking_out', 'checked_out');

CREATE TABLE instructions (
    id            TEXT PRIMARY KEY,
    checkout_id   TEXT NOT NULL REFERENCES checkouts(id),
    terminal_id   TEXT NOT NULL REFERENCES terminals(id),
    kind          TEXT NOT NULL,
    login         TEXT NOT NULL,
    groups_json   TEXT NOT NULL,
    generation    BIGINT NOT NULL,
    ends_at       BIGINT NOT NULL,
    issued_at     BIGINT NOT NULL,
    attempt       INTEGER NOT NULL,
    state         TEXT NOT NULL,
    ready_at      BIGINT NOT NULL,
    locked_until  BIGINT NOT NULL,
    result        TEXT NOT NULL DEFAULT '',
    detail        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX instructions_open ON instructions (terminal_id, state);
CREATE INDEX instructions_of_checkout ON instructions (checkout_id);
