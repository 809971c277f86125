-- latchkey schema, version 1 (SQLite). Times are UTC microseconds since the epoch.
CREATE TABLE principals (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL,
    global      BOOLEAN NOT NULL DEFAULT FALSE,
    disabled    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT NOT NULL
);

CREATE TABLE identities (
    login          TEXT PRIMARY KEY,
    principal_id   TEXT NOT NULL REFERENCES principals(id),
    password_hash  TEXT NOT NULL,
    failures       INTEGER NOT NULL DEFAULT 0,
    locked_until   BIGINT,
    created_at     BIGINT NOT NULL,
    last_login_at  BIGINT
);
CREATE INDEX identities_principal ON identities(principal_id);

CREATE TABLE sites (
    id                       TEXT PRIMARY KEY,
    name                     TEXT NOT NULL,
    timezone                 TEXT NOT NULL,
    concurrency_controls     BOOLEAN NOT NULL,
    allow_standalone         BOOLEAN NOT NULL,
    standalone_auth          TEXT NOT NULL,
    standalone_quotas        TEXT NOT NULL,
    max_session_minutes      INTEGER NOT NULL,
    daily_quota_minutes      INTEGER NOT NULL,
    inactivity_lock_minutes  INTEGER NOT NULL,
    forced_timeout_minutes   INTEGER NOT NULL,
    warning_seconds          INTEGER NOT NULL,
    created_at               BIGINT NOT NULL
);

CREATE TABLE terminals (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    site_id     TEXT NOT NULL REFERENCES sites(id),
    created_at  BIGINT NOT NULL
);

CREATE TABLE tokens (
    hash          TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    principal_id  TEXT REFERENCES principals(id),
    terminal_id   TEXT REFERENCES terminals(id),
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT,
    revoked_at    BIGINT
);

CREATE TABLE sessions (
    id                TEXT PRIMARY KEY,
    principal_id      TEXT NOT NULL REFERENCES principals(id),
    identity          TEXT NOT NULL,
    terminal_id       TEXT NOT NULL REFERENCES terminals(id),
    site_id           TEXT NOT NULL REFERENCES sites(id),
    status            TEXT NOT NULL,
    started_at        BIGINT NOT NULL,
    locked_at         BIGINT,
    ended_at          BIGINT,
    last_activity_at  BIGINT NOT NULL,
    standalone        BOOLEAN NOT NULL DEFAULT FALSE,
    exempt            BOOLEAN NOT NULL DEFAULT FALSE,
    end_reason        TEXT NOT NULL DEFAULT ''
);
-- A terminal has at most one ACTIVE session.
CREATE UNIQUE INDEX sessions_one_active_per_terminal ON sessions(terminal_id) WHERE status = 'active';
-- A non-global principal has at most one ACTIVE unlocked session (rule 5),
-- enforced by the store itself as well as by the rules.
CREATE UNIQUE INDEX sessions_one_unlocked_per_principal ON sessions(principal_id)
    WHERE status = 'active' AND locked_at IS NULL AND exempt = FALSE;
CREATE INDEX sessions_principal ON sessions(principal_id, status);
CREATE INDEX sessions_active_activity ON sessions(last_activity_at) WHERE status = 'active';

CREATE TABLE terminal_events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    terminal_id  TEXT NOT NULL REFERENCES terminals(id),
    client_id    TEXT,
    event        INTEGER NOT NULL,
    occurred_at  BIGINT NOT NULL,
    received_at  BIGINT NOT NULL,
    identity     TEXT NOT NULL DEFAULT '',
    reason       TEXT NOT NULL DEFAULT '',
    source       TEXT NOT NULL
);
CREATE UNIQUE INDEX terminal_events_client ON terminal_events(terminal_id, client_id);
CREATE INDEX terminal_events_terminal ON terminal_events(terminal_id, seq);

CREATE TABLE audit (
    seq        BIGINT PRIMARY KEY,
    at         BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    terminal   TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    details    TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX audit_actor ON audit(actor, seq);
CREATE INDEX audit_action ON audit(action, seq);

CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   BIGINT NOT NULL,
    hash  TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE idempotency (
    scope       TEXT NOT NULL,
    key         TEXT NOT NULL,
    req_hash    TEXT NOT NULL,
    status      INTEGER NOT NULL,
    body        BLOB,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);
