-- Reconciliation tasks (issue 12): a task issues instructions of its own
-- to terminals' agents: an inventory (kind 'inventory', which asks for
-- the members of the managed groups and keeps the answer in
-- members_json) and corrections of drift (fix = 1), which a correction
-- that removes a member nobody granted makes without a check-out. So an
-- instruction's check-out becomes optional ('' for none: the foreign key
-- goes) and it names its task. The table is rebuilt the same way on both
-- stores (SQLite cannot drop a constraint in place).
CREATE TABLE instructions_v24 (
    id            TEXT PRIMARY KEY,
    checkout_id   TEXT NOT NULL DEFAULT '',
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
    detail        TEXT NOT NULL DEFAULT '',
    task_id       TEXT NOT NULL DEFAULT '',
    fix           BOOLEAN NOT NULL DEFAULT FALSE,
    members_json  TEXT NOT NULL DEFAULT ''
);
INSERT INTO instructions_v24 (id, checkout_id, terminal_id, kind, login, groups_json, generation, ends_at, issued_at, attempt, state, ready_at, locked_until, result, detail)
SELECT id, checkout_id, terminal_id, kind, login, groups_json, generation, ends_at, issued_at, attempt, state, ready_at, locked_until, result, detail FROM instructions;
DROP TABLE instructions;
ALTER TABLE instructions_v24 RENAME TO instructions;
CREATE INDEX instructions_open ON instructions (terminal_id, state);
CREATE INDEX instructions_of_checkout ON instructions (checkout_id);
CREATE INDEX instructions_of_task ON instructions (task_id, terminal_id) WHERE task_id <> '';

-- What a reconciliation found on each terminal it has been through (the
-- drift as JSON); the terminals done so far are its checkpoint.
CREATE TABLE reconcile_terminals (
    task_id      TEXT NOT NULL REFERENCES tasks(id),
    terminal_id  TEXT NOT NULL,
    drift_json   TEXT NOT NULL,
    PRIMARY KEY (task_id, terminal_id)
);
