-- Background jobs (issue 12): everything a node runs in the background is
-- a row here, claimed with a lease (lease_until) and a fencing number
-- (fence, raised at every claim). A step's effect and its completion
-- commit in one transaction that checks the fence. Times are UTC
-- microseconds.
CREATE TABLE jobs (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    job_key       TEXT NOT NULL DEFAULT '',
    args          TEXT NOT NULL DEFAULT '',
    state         TEXT NOT NULL,
    run_at        BIGINT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    max_attempts  INTEGER NOT NULL,
    node          TEXT NOT NULL DEFAULT '',
    fence         BIGINT NOT NULL DEFAULT 0,
    lease_until   BIGINT,
    error         TEXT NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    ended_at      BIGINT
);
-- At most one live job per key; an ended job frees its key.
CREATE UNIQUE INDEX jobs_live_key ON jobs (job_key) WHERE job_key <> '' AND state IN ('available', 'running');
CREATE INDEX jobs_available ON jobs (run_at) WHERE state = 'available';
CREATE INDEX jobs_running ON jobs (lease_until) WHERE state = 'running';
CREATE INDEX jobs_state_id ON jobs (state, id);
