-- Scheduled reservations of a terminal for a person (issue 5). Times are
-- UTC microseconds.
CREATE TABLE reservations (
    id            TEXT PRIMARY KEY,
    terminal_id   TEXT NOT NULL REFERENCES terminals(id),
    principal_id  TEXT NOT NULL REFERENCES principals(id),
    start_at      BIGINT NOT NULL,
    minutes       INTEGER NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX reservations_terminal ON reservations (terminal_id, start_at);
