-- Group sets (issue 4): named sets of privileged local groups. groups and
-- eligible are JSON arrays of strings.
CREATE TABLE groupsets (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    groups_json  TEXT NOT NULL,
    max_minutes  INTEGER NOT NULL,
    eligible     TEXT NOT NULL,
    approval     BOOLEAN NOT NULL,
    created_at   BIGINT NOT NULL
);
