-- Audit records are append-only (issue 10, hole 13). On SQLite these
-- triggers only stop mistakes: whoever can write the database file can
-- drop them. What protects the file is its mode (0600, in a 0700 data
-- directory) and the signed seals kept outside it (docs/security.md).
-- (Each statement must stay on one line: migrations split at a ';' that ends a line.)
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit records are append-only: UPDATE on audit refused'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit records are append-only: DELETE on audit refused'); END;
