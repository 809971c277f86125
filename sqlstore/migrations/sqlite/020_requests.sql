-- Access requests with approval (issue 12): the request, its approval
-- work item and its workflow (steps as JSON, in order), and which
-- check-outs a request provisioned. Times are UTC microseconds.
ALTER TABLE groupsets ADD COLUMN approvers TEXT NOT NULL DEFAULT '[]';
ALTER TABLE checkouts ADD COLUMN request_id TEXT NOT NULL DEFAULT '';
CREATE TABLE requests (
    id                   TEXT PRIMARY KEY,
    requester            TEXT NOT NULL REFERENCES principals(id),
    groupset_id          TEXT NOT NULL REFERENCES groupsets(id),
    terminals            TEXT NOT NULL,
    minutes              INTEGER NOT NULL,
    reason               TEXT NOT NULL,
    status               TEXT NOT NULL,
    workflow_id          TEXT NOT NULL,
    checkouts            TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    approval_expires_at  BIGINT,
    decided_by           TEXT NOT NULL DEFAULT '',
    decided_at           BIGINT,
    end_reason           TEXT NOT NULL DEFAULT '',
    updated_at           BIGINT NOT NULL
);
CREATE INDEX requests_requester ON requests (requester, id);
CREATE INDEX requests_status ON requests (status, id);
CREATE TABLE workitems (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    request_id  TEXT NOT NULL REFERENCES requests(id),
    status      TEXT NOT NULL,
    assignees   TEXT NOT NULL,
    requester   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    decision    TEXT NOT NULL DEFAULT '',
    decided_by  TEXT NOT NULL DEFAULT '',
    decided_at  BIGINT,
    comment     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX workitems_status ON workitems (status, id);
CREATE INDEX workitems_request ON workitems (request_id);
CREATE TABLE workflows (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    request_id  TEXT NOT NULL REFERENCES requests(id),
    status      TEXT NOT NULL,
    steps       TEXT NOT NULL,
    node        TEXT NOT NULL DEFAULT '',
    updated_at  BIGINT NOT NULL
);
CREATE INDEX checkouts_request ON checkouts (request_id) WHERE request_id <> '';
