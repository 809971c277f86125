-- The cluster's node registry (issue 12): each serve process beats here
-- about once a second; liveness is judged by the store's clock. Times are
-- UTC microseconds.
CREATE TABLE nodes (
    id          TEXT PRIMARY KEY,
    addr        TEXT NOT NULL,
    started_at  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL
);
