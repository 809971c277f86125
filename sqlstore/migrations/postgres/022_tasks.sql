-- Scheduled tasks (issue 12): each run is a row, run by a job; its
-- progress is stored at each checkpoint and its result when it is done.
-- Times are UTC microseconds.
CREATE TABLE tasks (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,
    run_at      BIGINT NOT NULL,
    every       TEXT NOT NULL DEFAULT '',
    params      TEXT NOT NULL DEFAULT '{}',
    node        TEXT NOT NULL DEFAULT '',
    attempts    INTEGER NOT NULL DEFAULT 0,
    done        INTEGER NOT NULL DEFAULT 0,
    total       INTEGER NOT NULL DEFAULT 0,
    previous    TEXT NOT NULL DEFAULT '',
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    started_at  BIGINT,
    ended_at    BIGINT,
    error       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX tasks_status ON tasks (status, id);
CREATE INDEX tasks_previous ON tasks (previous) WHERE previous <> '';
CREATE TABLE task_results (
    task_id       TEXT PRIMARY KEY REFERENCES tasks(id),
    content_type  TEXT NOT NULL,
    body          TEXT NOT NULL,
    chart         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_site_started ON sessions (site_id, started_at);
