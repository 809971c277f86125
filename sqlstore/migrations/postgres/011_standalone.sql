-- Standalone mode and session limits (issue 5). Times are UTC microseconds.
-- A session's limit: when it is logged off (ends_at), when the Time
-- Critical Warning is due (warn_at), which limit binds, whether the
-- warning was given.
ALTER TABLE sessions ADD COLUMN ends_at BIGINT;
ALTER TABLE sessions ADD COLUMN warn_at BIGINT;
ALTER TABLE sessions ADD COLUMN limit_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN warned BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX sessions_limits ON sessions (warn_at) WHERE status = 'active' AND warn_at IS NOT NULL;

-- The offline logon verifier made for agents (argon2id with its own salt,
-- never the password_hash itself), set whenever the password is known.
ALTER TABLE identities ADD COLUMN offline_verifier TEXT NOT NULL DEFAULT '';
ALTER TABLE identities ADD COLUMN offline_verifier_at BIGINT NOT NULL DEFAULT 0;
-- An admin can revoke a person's offline logon.
ALTER TABLE principals ADD COLUMN offline_logon BOOLEAN NOT NULL DEFAULT TRUE;

-- The agent's last reported mode.
ALTER TABLE terminals ADD COLUMN standalone BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE terminals ADD COLUMN standalone_since BIGINT NOT NULL DEFAULT 0;

-- Every uploaded journal entry, once: its session (none for an unknown
-- identity) and verdict.
CREATE TABLE journal_entries (
    terminal_id  TEXT NOT NULL REFERENCES terminals(id),
    id           TEXT NOT NULL,
    identity     TEXT NOT NULL,
    session_id   TEXT,
    verdict      TEXT NOT NULL,
    reason       TEXT NOT NULL,
    received_at  BIGINT NOT NULL,
    PRIMARY KEY (terminal_id, id)
);

-- The server's ed25519 key for quota snapshots (one row).
CREATE TABLE server_keys (
    id           TEXT PRIMARY KEY,
    private_key  TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
