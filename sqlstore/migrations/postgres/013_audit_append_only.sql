-- Audit records are append-only (issue 10, hole 13). A trigger refuses
-- every UPDATE, DELETE and TRUNCATE of the audit table, whoever runs it:
-- the role latchkey runs as needs only SELECT and INSERT there (see
-- docs/security.md for the grants). Only the table's owner can get round
-- it (ALTER TABLE audit DISABLE TRIGGER, or a superuser's
-- session_replication_role = replica), which is the attacker the signed
-- seals kept outside the database catch.
-- (Each statement must stay on one line: migrations split at a ';' that ends a line.)
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit records are append-only: % on audit refused', TG_OP USING ERRCODE = 'insufficient_privilege'; END $$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
